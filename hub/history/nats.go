package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/subject"
)

// natsQueue spreads history requests over the hub's subscriptions.
const natsQueue = "history"

// natsRequestTimeout bounds the work of one request.
const natsRequestTimeout = 30 * time.Second

// Request is the payload of <domain>.storage.history: the parameters of
// GET /api/v2/history/{layer}/{collection}[/{id}] as a JSON object.
type Request struct {
	// Layer and Collection name the collection (required).
	Layer string `json:"layer"`
	// Collection is the collection's name inside the layer.
	Collection string `json:"collection"`
	// ID asks for one document (the REST route's {id}).
	ID string `json:"id,omitempty"`
	// IDs asks for several documents.
	IDs []string `json:"ids,omitempty"`
	// Query is a selector on the current documents (the REST query
	// parameter): their history is returned.
	Query map[string]any `json:"query,omitempty"`
	// Fields are field paths: a list, or one comma-separated string.
	Fields json.RawMessage `json:"fields,omitempty"`
	// From and To are RFC 3339 date-times, dates, or milliseconds (a
	// number or a string).
	From json.RawMessage `json:"from,omitempty"`
	// To is the end, inclusive (default: now).
	To json.RawMessage `json:"to,omitempty"`
	// Step aggregates into step-aligned intervals (e.g. "15m", "1h", "1d").
	Step string `json:"step,omitempty"`
	// Agg is the aggregation of a step (avg, min, max, sum, count, first, last).
	Agg string `json:"agg,omitempty"`
	// Limit caps the points of each series.
	Limit int `json:"limit,omitempty"`
}

// values turns the request into the REST route's parameters.
func (r *Request) values() (url.Values, error) {
	v := url.Values{}
	if len(r.Fields) > 0 {
		var list []string
		var one string
		if err := json.Unmarshal(r.Fields, &list); err == nil {
			v.Set("fields", strings.Join(list, ","))
		} else if err := json.Unmarshal(r.Fields, &one); err == nil {
			v.Set("fields", one)
		} else {
			return nil, errorf(ErrInvalid, "fields: want a list of field paths or a comma-separated string, not %s", r.Fields)
		}
	}
	for _, t := range []struct {
		name string
		raw  json.RawMessage
	}{{"from", r.From}, {"to", r.To}} {
		if len(t.raw) == 0 {
			continue
		}
		var s string
		var n json.Number
		if err := json.Unmarshal(t.raw, &s); err == nil {
			v.Set(t.name, s)
		} else if err := json.Unmarshal(t.raw, &n); err == nil {
			v.Set(t.name, n.String())
		} else {
			return nil, errorf(ErrInvalid, "%s: want an RFC 3339 date-time, a date or milliseconds, not %s", t.name, t.raw)
		}
	}
	v.Set("step", r.Step)
	v.Set("agg", r.Agg)
	if r.Limit != 0 {
		v.Set("limit", strconv.Itoa(r.Limit))
	}
	return v, nil
}

// errorReply is the answer to a request that could not be served.
type errorReply struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Responder answers <domain>.storage.history requests with the REST
// route's JSON envelope. Who may ask is the broker's concern: the subject
// is open to the hub's own services and to the NATS users whose publish
// permissions list it (never to edges); a caller that may ask sees every
// field, as a service with a collection-wide read grant would.
type Responder struct {
	hist   Reader
	st     store.Store
	log    *slog.Logger
	sub    *nats.Subscription
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards stopped against wg.Add after Stop
	stopped bool
	wg      sync.WaitGroup
}

// ServeNATS subscribes the history subject of domain on nc; the current
// documents (for query) come from st. Stop it with Stop.
func ServeNATS(nc *nats.Conn, domain string, hist Reader, st store.Store, log *slog.Logger) (*Responder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Responder{hist: hist, st: st, log: log}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	sub, err := nc.QueueSubscribe(subject.StorageHistory(domain), natsQueue, func(m *nats.Msg) {
		r.mu.Lock()
		if r.stopped {
			r.mu.Unlock()
			return
		}
		r.wg.Add(1)
		r.mu.Unlock()
		defer r.wg.Done()
		r.answer(m, nc.MaxPayload())
	})
	if err != nil {
		r.cancel()
		return nil, fmt.Errorf("history: subscribe %s: %w", subject.StorageHistory(domain), err)
	}
	r.sub = sub
	return r, nil
}

// Stop unsubscribes and waits for the request being answered.
func (r *Responder) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
	r.cancel()
	r.wg.Wait()
}

func (r *Responder) answer(m *nats.Msg, maxPayload int64) {
	if m.Reply == "" {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, natsRequestTimeout)
	defer cancel()
	body, err := r.serve(ctx, m.Data, maxPayload)
	if err != nil {
		body, _ = json.Marshal(errorReply{Status: "error", Message: err.Error()})
	}
	if err := m.Respond(body); err != nil {
		r.log.Warn("history: reply", "subject", m.Subject, "err", err)
	}
}

// errTooLarge stops a reply that would not fit in one NATS message.
var errTooLarge = errors.New("answer too large")

// capped is a buffer that refuses to grow beyond max bytes.
type capped struct {
	bytes.Buffer
	max int64
}

func (c *capped) Write(p []byte) (int, error) {
	if int64(c.Len()+len(p)) > c.max {
		return 0, errTooLarge
	}
	return c.Buffer.Write(p)
}

// serve answers one request, or says what was wrong with it.
func (r *Responder) serve(ctx context.Context, data []byte, maxPayload int64) ([]byte, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, errorf(ErrInvalid, "the request is a JSON object with layer, collection and the parameters of GET /api/v2/history: %v", err)
	}
	v, err := req.values()
	if err != nil {
		return nil, err
	}
	q, err := QueryFromValues(req.Layer, req.Collection, v, time.Now())
	if err != nil {
		return nil, err
	}
	l, err := r.st.Layer(ctx, q.Layer)
	if err != nil {
		return nil, fmt.Errorf("history of %s/%s: %w", q.Layer, q.Collection, err)
	}
	if l.Collection(q.Collection) == nil {
		return nil, fmt.Errorf("history of %s/%s: %w: layer %s has no collection %q", q.Layer, q.Collection, store.ErrNotFound, q.Layer, q.Collection)
	}
	q.IDs = append(q.IDs, req.IDs...)
	if req.ID != "" {
		q.IDs = append(q.IDs, req.ID)
	}
	none := false
	if req.Query != nil {
		sel, err := query.CompileSelector(req.Query)
		if err != nil {
			return nil, errorf(ErrInvalid, "query: %v", err)
		}
		proj, err := query.ParseProjection(map[string]any{store.FieldID: 1})
		if err != nil {
			return nil, err
		}
		docs, err := r.st.Find(ctx, q.Layer, q.Collection, store.FindOptions{Selector: sel, Projection: proj})
		if err != nil {
			return nil, fmt.Errorf("history: select the documents of %s/%s: %w", q.Layer, q.Collection, err)
		}
		var ids []string
		for _, d := range docs {
			if id, ok := d[store.FieldID].(string); ok && (len(q.IDs) == 0 || slices.Contains(q.IDs, id)) {
				ids = append(ids, id)
			}
		}
		q.IDs, none = ids, len(ids) == 0
	}
	out := &capped{max: maxPayload}
	jw := NewJSONWriter(out)
	if !none {
		err = r.hist.Select(ctx, q, jw.Write)
	}
	if err == nil {
		err = jw.Close()
	}
	if errors.Is(err, errTooLarge) {
		return nil, errorf(ErrInvalid, "the answer exceeds the NATS maximum payload of %d bytes: narrow from/to, fields or ids, aggregate with step, cap with limit, or use GET /api/v2/history with format=csv", maxPayload)
	}
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
