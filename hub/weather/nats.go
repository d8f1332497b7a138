package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
)

// Actions of <domain>.weather.<action>.
const (
	// ActionCurrent answers as GET /api/v1/weather.
	ActionCurrent = "current"
	// ActionForecast answers as GET /api/v1/weatherforecast.
	ActionForecast = "forecast"
)

// QueueGroup is the queue group of the responders, so that one hub of
// several answers each request.
const QueueGroup = "gridedge-weather"

// maxInFlight bounds the requests answered at once (each may wait for the
// provider up to Config.Timeout).
const maxInFlight = 16

// Request is the body of a NATS request: the REST routes' query options
// as JSON ({"cityName": "Valencia,ESP", "lat": 39.47, "lon": -0.38,
// "hours": 24}).
type Request struct {
	Query
	// Hours of forecast, 1 to 48 (default 48; forecast only).
	Hours *int `json:"hours,omitempty"`
}

// Reply is the answer, in the REST API's envelope.
type Reply struct {
	// Status is "success" or "error".
	Status string `json:"status"`
	// Message says what went wrong.
	Message string `json:"message,omitempty"`
	// Data is the seed's message: a Current, or a list of Forecast.
	Data any `json:"data,omitempty"`
	// Stale, on an answer from the last good data, says why the provider
	// could not give a fresh one (REST: the X-Weather-Stale header).
	Stale string `json:"stale,omitempty"`
}

// Responder answers <domain>.weather.current and .forecast.
type Responder struct {
	subs    []*nats.Subscription
	sem     chan struct{}
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// Serve subscribes the responders on nc in the queue group QueueGroup,
// under Options.Domain.
func (s *Service) Serve(nc *nats.Conn) (*Responder, error) {
	if err := subject.CheckToken("domain", s.opts.Domain); err != nil {
		return nil, fmt.Errorf("weather: %w", err)
	}
	r := &Responder{sem: make(chan struct{}, maxInFlight)}
	for _, action := range []string{ActionCurrent, ActionForecast} {
		subj := subject.Weather(s.opts.Domain, action)
		sub, err := nc.QueueSubscribe(subj, QueueGroup, func(m *nats.Msg) {
			r.sem <- struct{}{}
			r.mu.Lock()
			if r.stopped {
				r.mu.Unlock()
				<-r.sem
				return
			}
			r.wg.Add(1)
			r.mu.Unlock()
			go func() {
				defer func() { <-r.sem; r.wg.Done() }()
				ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout.Std()+s.cfg.Timeout.Std()/2)
				defer cancel()
				b, err := json.Marshal(s.answer(ctx, action, m.Data))
				if err != nil {
					b, _ = json.Marshal(Reply{Status: "error", Message: "encode the result: " + err.Error()})
				}
				if err := m.Respond(b); err != nil {
					s.log.Debug("weather: reply", "err", err)
				}
			}()
		})
		if err != nil {
			r.Stop()
			return nil, fmt.Errorf("weather: subscribe to %s: %w", subj, err)
		}
		r.subs = append(r.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		r.Stop()
		return nil, fmt.Errorf("weather: subscribe to the requests: %w", err)
	}
	return r, nil
}

// Stop unsubscribes and waits for the requests being answered.
func (r *Responder) Stop() {
	for _, sub := range r.subs {
		_ = sub.Unsubscribe()
	}
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.wg.Wait()
}

func (s *Service) answer(ctx context.Context, action string, data []byte) Reply {
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Reply{Status: "error", Message: fmt.Sprintf("%v: invalid request (known fields: cityName, lat, lon, city, postalCode, country, hours): %v", ErrInvalid, err)}
	}
	var problems []string
	if err := req.Query.Validate(); err != nil {
		problems = append(problems, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	hours := MaxHours
	if req.Hours != nil {
		switch {
		case action != ActionForecast:
			problems = append(problems, "hours applies to forecast only")
		case *req.Hours < 1 || *req.Hours > MaxHours:
			problems = append(problems, fmt.Sprintf("hours %d must be from 1 to %d", *req.Hours, MaxHours))
		default:
			hours = *req.Hours
		}
	}
	if len(problems) > 0 {
		return Reply{Status: "error", Message: fmt.Sprintf("%v: %s", ErrInvalid, strings.Join(problems, "; "))}
	}
	var body any
	var why string
	var err error
	if action == ActionForecast {
		body, why, err = s.Forecast(ctx, req.Query, hours)
	} else {
		body, why, err = s.Current(ctx, req.Query)
	}
	if err != nil {
		return Reply{Status: "error", Message: err.Error()}
	}
	return Reply{Status: "success", Data: body, Stale: why}
}
