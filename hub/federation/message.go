package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Operations of a federated change.
const (
	// OpPut sets the document to Doc (created when missing).
	OpPut = "put"
	// OpDelete removes the document.
	OpDelete = "delete"
	// OpDrop removes every document of the collection.
	OpDrop = "drop"
	// OpHistory carries points of past history (History).
	OpHistory = "history"
)

// Change is one document change sent to a peer: the document's content
// after the change, so that applying it again, or applying the next one
// after a redelivery, leaves the same document.
type Change struct {
	// Origin lists the deployments the change passed through, the one where
	// it was made first; a deployment never receives a change it is listed
	// in.
	Origin []string `json:"origin"`
	// Op is OpPut, OpDelete or OpDrop.
	Op string `json:"op"`
	// Layer and Collection name the collection at the exporting deployment.
	Layer string `json:"layer"`
	// Collection: see Layer.
	Collection string `json:"collection"`
	// ID is the document's _id (empty with OpDrop).
	ID string `json:"id,omitempty"`
	// Doc is the document (OpPut), dates as {"$date": RFC 3339}.
	Doc map[string]any `json:"doc,omitempty"`
	// History holds points of past history (OpHistory).
	History []HistoryPoint `json:"history,omitempty"`
	// At is when the exporting hub sent the change (for the lag figure).
	At time.Time `json:"at"`
}

// encodeDates returns v with every time.Time as Extended JSON {"$date": …},
// so that the importing store keeps dates as dates.
func encodeDates(v any) any {
	switch x := v.(type) {
	case time.Time:
		return map[string]any{"$date": x.UTC().Format(time.RFC3339Nano)}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = encodeDates(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeDates(e)
		}
		return out
	}
	return v
}

// Marshal encodes c.
func (c *Change) Marshal() ([]byte, error) {
	cc := *c
	if c.Doc != nil {
		cc.Doc, _ = encodeDates(c.Doc).(map[string]any)
	}
	b, err := json.Marshal(&cc)
	if err != nil {
		return nil, fmt.Errorf("federation: encode the change of %s/%s/%s: %w", c.Layer, c.Collection, c.ID, err)
	}
	return b, nil
}

// errBadChange wraps every decoding failure.
var errBadChange = errors.New("federation: bad change")

// Unmarshal decodes and checks a change.
func Unmarshal(data []byte) (*Change, error) {
	var c Change
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadChange, err)
	}
	if len(c.Origin) == 0 {
		return nil, fmt.Errorf("%w: no origin", errBadChange)
	}
	if err := store.CheckName("layer", c.Layer); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadChange, err)
	}
	if err := store.CheckName("collection", c.Collection); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadChange, err)
	}
	switch c.Op {
	case OpPut:
		if c.ID == "" || c.Doc == nil {
			return nil, fmt.Errorf("%w: put without an id or a document", errBadChange)
		}
		d, err := query.ConvertDates(c.Doc)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadChange, err)
		}
		c.Doc, _ = d.(map[string]any)
	case OpDelete:
		if c.ID == "" {
			return nil, fmt.Errorf("%w: delete without an id", errBadChange)
		}
	case OpDrop:
	case OpHistory:
		if len(c.History) == 0 {
			return nil, fmt.Errorf("%w: history without points", errBadChange)
		}
		for _, p := range c.History {
			if p.ID == "" || p.Field == "" {
				return nil, fmt.Errorf("%w: a history point without an id or a field", errBadChange)
			}
			switch p.V.(type) {
			case nil, float64, string:
			default:
				return nil, fmt.Errorf("%w: history point %s/%s has a value of type %T", errBadChange, p.ID, p.Field, p.V)
			}
		}
	default:
		return nil, fmt.Errorf("%w: unknown op %q", errBadChange, c.Op)
	}
	return &c, nil
}

// passedThrough reports whether the change passed through deployment d.
func (c *Change) passedThrough(d string) bool { return slices.Contains(c.Origin, d) }
