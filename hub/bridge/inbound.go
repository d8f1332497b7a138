package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gridedge/gridedge/hub/store"
)

// Inbound writes the JSON messages of an inbound bridge into one
// collection: each message is an object or an array of objects; each
// object goes through the converter (when configured), whose result is an
// object or an array of objects too; every resulting document needs an _id
// (a string or a number) and is upserted by it (store.Bulk: its fields are
// $set, other fields of a stored document are kept).
type Inbound struct {
	st         store.Store
	conv       Converter
	converter  string
	layer, col string
	log        *slog.Logger

	mu    sync.Mutex
	stats InboundStats
}

// InboundStats count what an Inbound did.
type InboundStats struct {
	// Messages counts messages stored.
	Messages uint64 `json:"messages"`
	// Documents counts documents written.
	Documents uint64 `json:"documents"`
	// Bad counts messages dropped as ErrBadMessage.
	Bad uint64 `json:"bad"`
	// Failures counts writes that failed and were tried again.
	Failures uint64 `json:"failures"`
}

// NewInbound makes the writer of inbound bridge cfg into st (a store that
// publishes change events and records history, as the hub's services get).
// It checks that the collection exists.
func NewInbound(ctx context.Context, cfg Config, st store.Store, conv Converter, log *slog.Logger) (*Inbound, error) {
	if cfg.Converter != "" && conv == nil {
		return nil, fmt.Errorf("bridge %s: converter %q needs services.converters", cfg.Name, cfg.Converter)
	}
	l, err := st.Layer(ctx, cfg.Layer)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: layer %q: %w", cfg.Name, cfg.Layer, err)
	}
	if l.Collection(cfg.Collection) == nil {
		return nil, fmt.Errorf("bridge %s: layer %q has no collection %q: %w", cfg.Name, cfg.Layer, cfg.Collection, store.ErrNotFound)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inbound{st: st, conv: conv, converter: cfg.Converter, layer: cfg.Layer, col: cfg.Collection,
		log: log.With("bridge", cfg.Name)}, nil
}

// Stats returns the counters.
func (in *Inbound) Stats() InboundStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

func (in *Inbound) count(f func(*InboundStats)) {
	in.mu.Lock()
	f(&in.stats)
	in.mu.Unlock()
}

// Documents decodes and converts one message. An error wraps ErrBadMessage.
func (in *Inbound) Documents(ctx context.Context, body []byte) ([]store.Document, error) {
	objs, err := objects(body)
	if err != nil {
		return nil, err
	}
	var docs []store.Document
	for _, o := range objs {
		if in.converter == "" {
			docs = append(docs, o)
			continue
		}
		res, err := in.conv.Apply(ctx, in.converter, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: converter %s: %w", ErrBadMessage, in.converter, err)
		}
		conv, err := resultObjects(res)
		if err != nil {
			return nil, fmt.Errorf("%w: converter %s: %w", ErrBadMessage, in.converter, err)
		}
		docs = append(docs, conv...)
	}
	for i, d := range docs {
		switch id := d[store.FieldID].(type) {
		case string:
			if id == "" {
				return nil, fmt.Errorf("%w: document %d has an empty _id", ErrBadMessage, i)
			}
		case float64, json.Number:
		case nil:
			return nil, fmt.Errorf("%w: document %d has no _id (a redelivered message must update the same document, so inbound documents need one)", ErrBadMessage, i)
		default:
			return nil, fmt.Errorf("%w: document %d: _id is a %T, not a string or a number", ErrBadMessage, i, id)
		}
	}
	return docs, nil
}

// Write stores the documents of messages in one write; it returns an
// error (not ErrBadMessage) when the store failed, and the caller tries
// again. The caller drops bad messages with Documents first.
func (in *Inbound) Write(ctx context.Context, docs []store.Document, messages int) error {
	if len(docs) > 0 {
		res, err := in.st.Bulk(ctx, in.layer, in.col, docs, false)
		if err == nil && res.Err > 0 {
			err = fmt.Errorf("%d of %d documents failed: %s", res.Err, len(docs), res.Errors[0])
		}
		if err != nil {
			in.count(func(s *InboundStats) { s.Failures++ })
			return fmt.Errorf("write %d documents to %s/%s: %w", len(docs), in.layer, in.col, err)
		}
	}
	in.count(func(s *InboundStats) { s.Messages += uint64(messages); s.Documents += uint64(len(docs)) })
	return nil
}

// Store converts and writes a group of messages as one write, the way
// both consumers do: bad messages are reported to bad (and counted) and
// left out; the others are stored together. It returns the store's error
// (the caller tries the group again).
func (in *Inbound) Store(ctx context.Context, bodies [][]byte, bad func(i int, err error)) error {
	var docs []store.Document
	n := 0
	for i, b := range bodies {
		d, err := in.Documents(ctx, b)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				return err
			}
			in.count(func(s *InboundStats) { s.Bad++ })
			in.log.Warn("bridge: message dropped", "err", err)
			bad(i, err)
			continue
		}
		docs = append(docs, d...)
		n++
	}
	return in.Write(ctx, docs, n)
}

// objects decodes a JSON object or array of objects.
func objects(body []byte) ([]map[string]any, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrBadMessage)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrBadMessage, err)
	}
	out, err := resultObjects(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return out, nil
}

func resultObjects(v any) ([]map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}, nil
	case []any:
		out := make([]map[string]any, 0, len(t))
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d is a %s, not an object", i, jsonKind(e))
			}
			out = append(out, m)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("a %s, not an object or an array of objects", jsonKind(v))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}
