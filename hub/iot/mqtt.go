package iot

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/gridedge/gridedge/shared/iotjson"
	"github.com/gridedge/gridedge/shared/model"
)

// ResourceMQTT is the resource of readings that come over MQTT
// (shared/iotjson).
const ResourceMQTT = iotjson.ResourceMQTT

// mqttFilters are the topics of the MQTT binding (shared/iotjson).
var mqttFilters = iotjson.Filters

// mqttWorkers is how many MQTT messages are stored at once.
const mqttWorkers = 16

// mqttJob is a received message and the client that acknowledges it.
type mqttJob struct {
	c *paho.Client
	p *paho.Publish
}

// fnv32 hashes a topic onto a worker.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// mqttClient is the connection of a running binding.
type mqttClient struct {
	mu sync.Mutex
	cm *autopaho.ConnectionManager
}

func (m *mqttClient) get() *autopaho.ConnectionManager {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cm
}

// runMQTT connects to the broker and handles the binding's messages until
// ctx ends.
func (s *Service) runMQTT(ctx context.Context) error {
	u, err := url.Parse(s.cfg.MQTT.URL)
	if err != nil {
		return fmt.Errorf("iot mqtt.url: %w", err)
	}
	var tlsCfg *tls.Config
	switch u.Scheme {
	case "mqtt":
		u.Scheme = "tcp"
	case "mqtts", "tls":
		u.Scheme = "ssl"
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	case "ssl":
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := make([]chan mqttJob, mqttWorkers)
	for i := range workers {
		workers[i] = make(chan mqttJob, 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-workers[i]:
					s.received(ctx, j.p)
					if j.p.QoS > 0 && j.c != nil {
						if err := j.c.Ack(j.p); err != nil && ctx.Err() == nil {
							s.log.Debug("iot: MQTT ack", "topic", j.p.Topic, "err", err)
						}
					}
				}
			}
		}()
	}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tlsCfg,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                10 * time.Second,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			s.log.Info("iot: connected to the MQTT broker", "url", u.Redacted())
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.subscribe(ctx, cm)
			}()
		},
		OnConnectionDown: func() bool {
			s.log.Warn("iot: MQTT broker connection lost; reconnecting")
			return true
		},
		OnConnectError: func(err error) { s.log.Warn("iot: MQTT broker connection attempt failed", "err", err) },
		ClientConfig: paho.ClientConfig{
			ClientID: s.cfg.MQTT.ClientID,
			// acknowledged once stored (paho sends acks in arrival order)
			EnableManualAcknowledgment: true,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				// a device's messages go to one worker, in order; the
				// workers' writes are grouped into batches
				w := workers[fnv32(pr.Packet.Topic)%uint32(len(workers))]
				select {
				case w <- mqttJob{c: pr.Client, p: pr.Packet}:
				case <-ctx.Done():
				}
				return true, nil
			}},
			OnClientError: func(err error) { s.log.Warn("iot: MQTT client error", "err", err) },
		},
	}
	if s.cfg.MQTT.Username != "" {
		cfg.ConnectUsername = s.cfg.MQTT.Username
		cfg.ConnectPassword = []byte(s.cfg.MQTT.Password)
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return fmt.Errorf("iot: MQTT %s: %w", u.Redacted(), err)
	}
	s.mqtt.mu.Lock()
	s.mqtt.cm = cm
	s.mqtt.mu.Unlock()
	<-ctx.Done()
	<-cm.Done()
	return nil
}

func (s *Service) subscribe(ctx context.Context, cm *autopaho.ConnectionManager) {
	sub := &paho.Subscribe{}
	for _, f := range mqttFilters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1, NoLocal: true})
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := cm.Subscribe(sctx, sub)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("iot: MQTT subscribe failed; will retry on reconnection", "err", err)
		}
		return
	}
	for i, rc := range ack.Reasons {
		if rc >= 0x80 && i < len(mqttFilters) {
			s.log.Error("iot: the MQTT broker refused a subscription", "topic", mqttFilters[i], "reason_code", rc)
		}
	}
	s.mqttReady.Store(true)
}

// received handles one message. MQTT has no answer: refusals are counted
// (Stats.Refused) and logged at debug level, so that a flood cannot fill
// the log.
func (s *Service) received(ctx context.Context, p *paho.Publish) {
	tp, ok := iotjson.ParseTopic(p.Topic)
	if !ok {
		return
	}
	in := Reading{APIKey: tp.APIKey, Resource: ResourceMQTT, DeviceID: tp.Device, Token: tp.Token, Payload: p.Payload, Attr: tp.Attr}
	if in.Token == "" && p.Properties != nil {
		in.Token = p.Properties.User.Get("token")
	}
	var err error
	if tp.Kind == "cmdexe" {
		err = s.commandResult(ctx, in)
	} else {
		err = s.Ingest(ctx, in)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			s.log.Debug("iot: MQTT message refused", "topic", p.Topic, "err", err)
		} else {
			s.log.Error("iot: store an MQTT message", "topic", p.Topic, "err", err)
		}
	}
}

// commandResult stores a device's answer to commands ({"<cmd>": result}):
// measurements <cmd>_status = "OK" and <cmd>_info = result on its
// document, as the IoT agents update the command's attributes.
func (s *Service) commandResult(ctx context.Context, in Reading) error {
	now := s.now()
	_, c, err := s.admit(ctx, in, now)
	if err != nil {
		s.refused.Add(1)
		return err
	}
	objs, err := measures(in)
	if err != nil {
		s.refused.Add(1)
		return err
	}
	ms := map[string]model.Measurement{}
	for k, v := range objs[0] {
		ms[k+"_status"] = model.Measurement{Value: "OK", Quality: model.QualityGood, Timestamp: now.UTC()}
		ms[k+"_info"] = model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: now.UTC()}
	}
	u := model.MeasurementUpdate(c.Doc.Layer, c.Doc.Collection, c.Doc.ID, now, ms)
	return s.w.write(ctx, []model.Update{u})
}

// SendCommand publishes commands to a device over MQTT
// (<apikey>/<deviceId>/cmd, payload {"<cmd>": value, …}) and marks each
// PENDING (<cmd>_status) on its document. Every command must be one of
// the device's or its group's commands.
func (s *Service) SendCommand(ctx context.Context, service, sub, id string, cmds map[string]any) error {
	cm := s.mqtt.get()
	if cm == nil {
		return &Error{Code: http.StatusServiceUnavailable, Name: NameNoCommandTransport, Message: "commands go over MQTT: set iot.mqtt.url"}
	}
	d, ok := s.reg.device(service, sub, id)
	if !ok {
		return deviceNotFound(id)
	}
	g := s.groupFor(&d)
	known := map[string]bool{}
	for _, c := range d.Commands {
		known[c.Name] = true
	}
	if g != nil {
		for _, c := range g.Commands {
			known[c.Name] = true
		}
	}
	if len(cmds) == 0 {
		return wrongSyntax("no command in the body")
	}
	for name := range cmds {
		if !known[name] {
			return wrongSyntax("device %s has no command %q", id, name)
		}
	}
	apikey := d.APIKey
	if apikey == "" && g != nil {
		apikey = g.APIKey
	}
	if apikey == "" {
		return missingAttributes("device %s has no apikey to address its commands with", id)
	}
	payload, err := json.Marshal(cmds)
	if err != nil {
		return wrongSyntax("command values: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cm.Publish(pctx, &paho.Publish{Topic: apikey + "/" + id + "/cmd", QoS: 1, Payload: payload}); err != nil {
		return fmt.Errorf("publish the commands of device %s: %w", id, err)
	}
	c, err := compile(&d, g)
	if err != nil {
		return err
	}
	now := s.now()
	ms := map[string]model.Measurement{}
	for name := range cmds {
		ms[name+"_status"] = model.Measurement{Value: "PENDING", Quality: model.QualityGood, Timestamp: now.UTC()}
	}
	return s.w.write(ctx, []model.Update{model.MeasurementUpdate(c.Doc.Layer, c.Doc.Collection, c.Doc.ID, now, ms)})
}
