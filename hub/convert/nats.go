package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

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
type Reply struct {
	// Status is "success" or "error".
	Status string `json:"status"`
	// Message says what went wrong.
	Message string `json:"message,omitempty"`
	// Data is the result.
	Data any `json:"data,omitempty"`
}

// Responder answers <domain>.converters.apply and .test, up to
// GOMAXPROCS requests at once (a slow script does not hold up the others).
type Responder struct {
	subs    []*nats.Subscription
	sem     chan struct{}
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// Serve subscribes the responders on nc (queue group QueueGroup).
func (r *Registry) Serve(nc *nats.Conn, domain string) (*Responder, error) {
	res := &Responder{sem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for _, action := range []string{ActionApply, ActionTest} {
		action := action
		sub, err := nc.QueueSubscribe(Subject(domain, action), QueueGroup, func(m *nats.Msg) {
			res.sem <- struct{}{} // a full pool holds this subscription's next message back
			res.mu.Lock()
			if res.stopped {
				res.mu.Unlock()
				<-res.sem
				return
			}
			res.wg.Add(1)
			res.mu.Unlock()
			go func() {
				defer func() { <-res.sem; res.wg.Done() }()
				b, err := json.Marshal(r.answer(action, m.Data))
				if err != nil {
					b, _ = json.Marshal(Reply{Status: "error", Message: "encode the result: " + err.Error()})
				}
				if err := m.Respond(b); err != nil {
					r.log.Debug("converters: reply", "err", err)
				}
			}()
		})
		if err != nil {
			res.Stop()
			return nil, fmt.Errorf("subscribe to %s: %w", Subject(domain, action), err)
		}
		res.subs = append(res.subs, sub)
	}
	if err := nc.Flush(); err != nil { // the server knows the subscriptions on return
		res.Stop()
		return nil, fmt.Errorf("subscribe to %s: %w", Subject(domain, ActionTest), err)
	}
	return res, nil
}

func (r *Registry) answer(action string, data []byte) Reply {
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		return Reply{Status: "error", Message: "invalid request: " + err.Error()}
	}
	if req.Document == nil {
		return Reply{Status: "error", Message: "invalid request: document is required"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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

// Stop unsubscribes and waits for the requests being answered.
func (s *Responder) Stop() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.wg.Wait()
}
