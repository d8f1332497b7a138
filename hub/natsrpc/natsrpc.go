// Package natsrpc serves NATS request/reply endpoints that answer in the
// REST API's envelope ({"status": "success", "data": …} or
// {"status": "error", "message": …}): queue-group or plain subscriptions,
// a context per request bounded by a timeout and by the responder's
// lifetime, an optional bound on the requests answered at once, and a
// reply that never exceeds the connection's maximum payload.
package natsrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// The values of Reply.Status.
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// Reply is an answer in the REST API's envelope.
type Reply struct {
	// Status is "success" or "error".
	Status string `json:"status"`
	// Message says what went wrong.
	Message string `json:"message,omitempty"`
	// Data is the result.
	Data any `json:"data,omitempty"`
}

// Success is a successful answer carrying data.
func Success(data any) Reply { return Reply{Status: StatusSuccess, Data: data} }

// Error is an error answer saying msg.
func Error(msg string) Reply { return Reply{Status: StatusError, Message: msg} }

// Handler answers the payload of one request; the value it returns is
// sent as JSON (a Reply, or a type of the same shape).
type Handler func(ctx context.Context, data []byte) any

// Endpoint is one subject answered.
type Endpoint struct {
	// Subject is the subject subscribed.
	Subject string
	// Queue is the queue group, so that one hub of several answers each
	// request; empty subscribes plainly (every hub receives the request).
	Queue string
	// Accept, when set, is asked before each request: false leaves the
	// request unanswered (for another responder to answer, or to time out).
	Accept func() bool
	// Handle answers a request.
	Handle Handler
}

// Options tune a Responder.
type Options struct {
	// Name prefixes errors and log messages ("alerts").
	Name string
	// Log receives the replies that could not be sent (debug); nil
	// discards them.
	Log *slog.Logger
	// Timeout bounds the context of each request; zero leaves it bounded
	// by the responder's lifetime only.
	Timeout time.Duration
	// MaxInFlight, above zero, answers up to that many requests at once,
	// each in its own goroutine (a slow one does not hold up the others);
	// zero answers the requests of an endpoint one at a time.
	MaxInFlight int
}

// stopWait bounds how long Stop waits for the requests received to be
// answered before it cancels them (a variable for the tests).
var stopWait = 15 * time.Second

// Responder answers the endpoints given to Serve until Stop.
type Responder struct {
	nc     *nats.Conn
	opts   Options
	subs   []*nats.Subscription
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards stopped against wg.Add after Stop
	stopped bool
	wg      sync.WaitGroup
}

// Serve subscribes the endpoints on nc; the server knows the subscriptions
// when it returns.
func Serve(nc *nats.Conn, opts Options, eps ...Endpoint) (*Responder, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r := &Responder{nc: nc, opts: opts}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if opts.MaxInFlight > 0 {
		r.sem = make(chan struct{}, opts.MaxInFlight)
	}
	for _, ep := range eps {
		if ep.Handle == nil {
			r.Stop()
			return nil, fmt.Errorf("%s: endpoint %s has no handler", opts.Name, ep.Subject)
		}
		ep := ep
		cb := func(m *nats.Msg) { r.receive(ep, m) }
		var sub *nats.Subscription
		var err error
		if ep.Queue != "" {
			sub, err = nc.QueueSubscribe(ep.Subject, ep.Queue, cb)
		} else {
			sub, err = nc.Subscribe(ep.Subject, cb)
		}
		if err != nil {
			r.Stop()
			return nil, fmt.Errorf("%s: subscribe to %s: %w", opts.Name, ep.Subject, err)
		}
		r.subs = append(r.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		r.Stop()
		return nil, fmt.Errorf("%s: subscribe to the requests: %w", opts.Name, err)
	}
	return r, nil
}

// receive runs in the subscription's goroutine.
func (r *Responder) receive(ep Endpoint, m *nats.Msg) {
	if ep.Accept != nil && !ep.Accept() {
		return
	}
	if r.sem != nil {
		r.sem <- struct{}{} // a full pool holds this subscription's next message back
	}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		if r.sem != nil {
			<-r.sem
		}
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	if r.sem == nil {
		defer r.wg.Done()
		r.answer(ep, m)
		return
	}
	go func() {
		defer func() { <-r.sem; r.wg.Done() }()
		r.answer(ep, m)
	}()
}

func (r *Responder) answer(ep Endpoint, m *nats.Msg) {
	ctx, cancel := r.ctx, context.CancelFunc(func() {})
	if r.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(r.ctx, r.opts.Timeout)
	}
	defer cancel()
	b := Encode(ep.Handle(ctx, m.Data), r.nc.MaxPayload())
	if err := m.Respond(b); err != nil {
		r.opts.Log.Debug(r.opts.Name+": reply", "subject", m.Subject, "err", err)
	}
}

// Encode is v as JSON, or an error Reply saying why it cannot be sent: it
// does not encode, or it exceeds maxPayload bytes (when above zero).
func Encode(v any, maxPayload int64) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(Error("encode the result: " + err.Error()))
		return b
	}
	if maxPayload > 0 && int64(len(b)) > maxPayload {
		b, _ = json.Marshal(Error(fmt.Sprintf("the answer of %d bytes exceeds the NATS maximum payload of %d bytes", len(b), maxPayload)))
	}
	return b
}

// Stop drains the subscriptions, so that the requests received are
// answered, and waits for them (up to 15s, after which their contexts are
// cancelled and Stop waits for their handlers to return).
func (r *Responder) Stop() {
	for _, sub := range r.subs {
		_ = sub.Drain()
	}
	deadline := time.Now().Add(stopWait)
	for _, sub := range r.subs {
		for sub.IsValid() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		r.cancel()
		<-done
	}
	r.cancel()
}

// Decode reads a request's JSON payload into v; an empty payload leaves v
// as it is. Unknown fields are ignored. The error is encoding/json's,
// for the caller to say what it was reading.
func Decode(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, v)
}

// DecodeStrict reads a request's JSON payload into v, refusing a field v
// does not have (the error names it).
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
