package convert

import (
	"context"
	"encoding/json"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/natsrpc"
	"github.com/gridedge/gridedge/shared/subject"
)

// Actions of <domain>.converters.<action>.
const (
	// ActionApply applies a stored transformation: {"id", "document"}.
	ActionApply = "apply"
	// ActionTest applies a stored ({"id"}) or given ({"converter"})
	// transformation to a sample: {"id"|"converter", "document"}.
	ActionTest = "test"
)

// QueueGroup is the queue group of the responders, so that one hub of
// several answers each request.
const QueueGroup = "gridedge-converters"

// Subject is <domain>.converters.<action>.
func Subject(domain, action string) string { return subject.Converters(domain, action) }

// Request is the body of a NATS request.
type Request struct {
	// ID names a stored transformation.
	ID string `json:"id,omitempty"`
	// Converter is a transformation given inline (test only).
	Converter map[string]any `json:"converter,omitempty"`
	// Document is the source document.
	Document map[string]any `json:"document"`
}

// Reply is the answer, in the REST API's envelope.
type Reply = natsrpc.Reply

// Responder answers <domain>.converters.apply and .test, up to
// GOMAXPROCS requests at once (a slow script does not hold up the others).
type Responder = natsrpc.Responder

// Serve subscribes the responders on nc (queue group QueueGroup).
func (r *Registry) Serve(nc *nats.Conn, domain string) (*Responder, error) {
	var eps []natsrpc.Endpoint
	for _, action := range []string{ActionApply, ActionTest} {
		eps = append(eps, natsrpc.Endpoint{Subject: Subject(domain, action), Queue: QueueGroup,
			Handle: func(ctx context.Context, data []byte) any { return r.answer(ctx, action, data) }})
	}
	return natsrpc.Serve(nc, natsrpc.Options{Name: "converters", Log: r.log, Timeout: 10 * time.Second, MaxInFlight: runtime.GOMAXPROCS(0)}, eps...)
}

func (r *Registry) answer(ctx context.Context, action string, data []byte) Reply {
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		return Reply{Status: "error", Message: "invalid request: " + err.Error()}
	}
	if req.Document == nil {
		return Reply{Status: "error", Message: "invalid request: document is required"}
	}
	var out any
	var err error
	switch {
	case action == ActionTest && req.Converter != nil:
		var t *Transformation
		if t, err = FromDocument(req.Converter); err == nil {
			out, err = r.TestInline(t, req.Document)
		}
	case req.ID == "":
		return Reply{Status: "error", Message: "invalid request: id is required"}
	default:
		out, err = r.Apply(ctx, req.ID, req.Document)
	}
	if err != nil {
		return Reply{Status: "error", Message: err.Error()}
	}
	return Reply{Status: "success", Data: out}
}
