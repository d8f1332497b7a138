package weather

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/natsrpc"
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
type Responder = natsrpc.Responder

// Serve subscribes the responders on nc in the queue group QueueGroup,
// under Options.Domain.
func (s *Service) Serve(nc *nats.Conn) (*Responder, error) {
	if err := subject.CheckToken("domain", s.opts.Domain); err != nil {
		return nil, fmt.Errorf("weather: %w", err)
	}
	var eps []natsrpc.Endpoint
	for _, action := range []string{ActionCurrent, ActionForecast} {
		eps = append(eps, natsrpc.Endpoint{Subject: subject.Weather(s.opts.Domain, action), Queue: QueueGroup,
			Handle: func(ctx context.Context, data []byte) any { return s.answer(ctx, action, data) }})
	}
	timeout := s.cfg.Timeout.Std() + s.cfg.Timeout.Std()/2
	return natsrpc.Serve(nc, natsrpc.Options{Name: "weather", Log: s.log, Timeout: timeout, MaxInFlight: maxInFlight}, eps...)
}

func (s *Service) answer(ctx context.Context, action string, data []byte) Reply {
	var req Request
	if err := natsrpc.DecodeStrict(data, &req); err != nil {
		return Reply{Status: natsrpc.StatusError, Message: fmt.Sprintf("%v: invalid request (known fields: cityName, lat, lon, city, postalCode, country, hours): %v", ErrInvalid, err)}
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
		return Reply{Status: natsrpc.StatusError, Message: fmt.Sprintf("%v: %s", ErrInvalid, strings.Join(problems, "; "))}
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
		return Reply{Status: natsrpc.StatusError, Message: err.Error()}
	}
	return Reply{Status: natsrpc.StatusSuccess, Data: body, Stale: why}
}
