package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
)

// queueGroup spreads requests over the hub's subscriptions.
const queueGroup = "forecast"

// NATS serves the seed's NATS interface on nc until Stop:
//
//	<domain>.forecast.model.create         MODEL_PARAMS → MODEL_DESCRIPTION
//	<domain>.forecast.model.list           {status, skip, limit} (optional) → {models, total, skip, limit}
//	<domain>.forecast.model.<id>.get       → MODEL_DESCRIPTION
//	<domain>.forecast.model.<id>.delete    → MODEL_CONFIRMATION
//	<domain>.forecast.model.<id>.train     TRAIN_PARAMS → MODEL_CONFIRMATION, then
//	                                        MODEL_DESCRIPTION on ….trainingcompleted
//	<domain>.forecast.model.<id>.forecast  FORECAST_PARAMS → MODEL_CONFIRMATION, then
//	                                        FORECAST_RESULT on ….forecastingcompleted
//
// Who may publish on these subjects is the broker's permissions' concern.
type NATS struct {
	s      *Service
	nc     *nats.Conn
	domain string
	subs   []*nats.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ServeNATS subscribes the service's subjects on nc.
func (s *Service) ServeNATS(nc *nats.Conn, domain string) (*NATS, error) {
	n := &NATS{s: s, nc: nc, domain: domain}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	sub := func(subj string, h func(m *nats.Msg)) error {
		sb, err := nc.QueueSubscribe(subj, queueGroup, h)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", subj, err)
		}
		n.subs = append(n.subs, sb)
		return nil
	}
	handlers := []struct {
		subj string
		h    func(m *nats.Msg)
	}{
		{subject.ForecastCreate(domain), n.create},
		{ListSubject(domain), n.list},
		{subject.ForecastModelAll(domain, subject.ForecastGet), n.get},
		{subject.ForecastModelAll(domain, subject.ForecastDelete), n.delete},
		{subject.ForecastModelAll(domain, subject.ForecastTrain), n.train},
		{subject.ForecastModelAll(domain, subject.ForecastForecast), n.forecast},
	}
	for _, h := range handlers {
		if err := sub(h.subj, h.h); err != nil {
			n.Stop()
			return nil, err
		}
	}
	s.mu.Lock()
	s.onDone = append(s.onDone, n.trained)
	s.mu.Unlock()
	return n, nil
}

// Stop unsubscribes and waits for running forecasts.
func (n *NATS) Stop() {
	for _, sb := range n.subs {
		_ = sb.Unsubscribe()
	}
	n.cancel()
	n.wg.Wait()
}

// id is the model id token of <domain>.forecast.model.<id>.<action>.
func (n *NATS) id(m *nats.Msg) string { return subject.Token(m.Subject, 3+countDots(n.domain)) }

func countDots(s string) int {
	c := 0
	for _, r := range s {
		if r == '.' {
			c++
		}
	}
	return c
}

func (n *NATS) reply(m *nats.Msg, v any) {
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(errorBody(err.Error()))
	}
	if err := m.Respond(b); err != nil {
		n.s.log.Warn("forecast: reply", "subject", m.Subject, "err", err)
	}
}

func (n *NATS) confirm(m *nats.Msg, id string, err error) {
	c := ModelConfirmation{ID: id, Status: "ok"}
	if err != nil {
		c.Status, c.Message = "error", err.Error()
	}
	n.reply(m, c)
}

// unmarshal decodes an optional JSON payload strictly.
func unmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	return nil
}

func (n *NATS) create(m *nats.Msg) {
	var p ModelParams
	if err := unmarshal(m.Data, &p); err != nil {
		n.reply(m, errorBody(err.Error()))
		return
	}
	d, err := n.s.Create(p)
	if err != nil {
		n.reply(m, errorBody(err.Error()))
		return
	}
	n.reply(m, d)
}

// ListSubject is the subject listing models: <domain>.forecast.model.list.
func ListSubject(domain string) string {
	return domain + "." + subject.ServiceForecast + ".model.list"
}

func (n *NATS) list(m *nats.Msg) {
	var p ListParams
	if err := unmarshal(m.Data, &p); err != nil {
		n.reply(m, errorBody(err.Error()))
		return
	}
	l, err := n.s.List(p)
	if err != nil {
		n.reply(m, errorBody(err.Error()))
		return
	}
	n.reply(m, l)
}

func (n *NATS) get(m *nats.Msg) {
	d, err := n.s.Get(n.id(m))
	if err != nil {
		n.reply(m, errorBody(err.Error()))
		return
	}
	n.reply(m, d)
}

func (n *NATS) delete(m *nats.Msg) {
	id := n.id(m)
	n.confirm(m, id, n.s.Delete(id))
}

func (n *NATS) train(m *nats.Msg) {
	id := n.id(m)
	var p TrainParams
	err := unmarshal(m.Data, &p)
	if err == nil {
		_, err = n.s.Train(id, p)
	}
	n.confirm(m, id, err)
}

func (n *NATS) forecast(m *nats.Msg) {
	id := n.id(m)
	var p ForecastParams
	if err := unmarshal(m.Data, &p); err != nil {
		n.confirm(m, id, err)
		return
	}
	if _, err := n.s.Get(id); err != nil {
		n.confirm(m, id, err)
		return
	}
	n.confirm(m, id, nil)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		rows, err := n.s.Forecast(n.ctx, id, p)
		var v any = rows
		if err != nil {
			v = errorBody(err.Error())
		}
		n.publish(subject.ForecastModel(n.domain, id, subject.ForecastForecastingCompleted), v)
	}()
}

// trained publishes MODEL_DESCRIPTION on …trainingcompleted.
func (n *NATS) trained(d ModelDescription) {
	if n.ctx.Err() != nil {
		return
	}
	n.publish(subject.ForecastModel(n.domain, d.ID, subject.ForecastTrainingCompleted), d)
}

func (n *NATS) publish(subj string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = n.nc.Publish(subj, b)
	}
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		n.s.log.Warn("forecast: publish", "subject", subj, "err", err)
	}
}
