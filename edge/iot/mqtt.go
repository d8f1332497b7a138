package iot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/gridedge/gridedge/shared/iotjson"
)

// Broker is where the MQTT binding connects.
type Broker struct {
	// URL is the broker's (mqtt, tcp, mqtts, ssl, tls, ws or wss).
	URL *url.URL
	// Username and Password authenticate the agent ("" for none).
	Username, Password string
	// TLS is the client TLS configuration of a TLS scheme (nil: system
	// roots).
	TLS *tls.Config
}

// RunMQTT subscribes (QoS 1) to <apikey>/<deviceId>[/<token>]/attrs[/<attr>]
// and …/cmdexe on b and takes every message through Ingest, until ctx
// ends; it reconnects by itself. MQTT has no answer: refused messages are
// counted (Stats.Refused) and logged at debug level only, so a flood
// cannot fill the log.
func (s *Service) RunMQTT(ctx context.Context, b Broker) error {
	u := *b.URL
	tlsCfg := b.TLS
	switch u.Scheme {
	case "mqtt":
		u.Scheme = "tcp"
	case "mqtts", "tls":
		u.Scheme = "ssl"
	}
	if u.Scheme == "ssl" || u.Scheme == "wss" {
		if tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan *paho.Publish, 256)
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-msgs:
				s.received(ctx, p)
			}
		}
	})
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{&u},
		TlsCfg:                        tlsCfg,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                10 * time.Second,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			s.log.Info("devices: connected to the MQTT broker", "url", u.Redacted())
			wg.Go(func() { s.subscribe(ctx, cm) })
		},
		OnConnectionDown: func() bool {
			s.mqttReady.Store(false)
			s.log.Warn("devices: MQTT broker connection lost; reconnecting")
			return true
		},
		OnConnectError: func(err error) { s.log.Warn("devices: MQTT broker connection attempt failed", "err", err) },
		ClientConfig: paho.ClientConfig{
			ClientID: s.cfg.MQTT.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				// one worker: a device's messages are taken in order
				select {
				case msgs <- pr.Packet:
				case <-ctx.Done():
				}
				return true, nil
			}},
			OnClientError: func(err error) { s.log.Warn("devices: MQTT client error", "err", err) },
		},
	}
	if b.Username != "" {
		cfg.ConnectUsername = b.Username
		cfg.ConnectPassword = []byte(b.Password)
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return fmt.Errorf("devices: MQTT %s: %w", u.Redacted(), err)
	}
	<-ctx.Done()
	<-cm.Done()
	s.mqttReady.Store(false)
	return nil
}

func (s *Service) subscribe(ctx context.Context, cm *autopaho.ConnectionManager) {
	sub := &paho.Subscribe{}
	for _, f := range iotjson.Filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1, NoLocal: true})
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := cm.Subscribe(sctx, sub)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("devices: MQTT subscribe failed; will retry on reconnection", "err", err)
		}
		return
	}
	for i, rc := range ack.Reasons {
		if rc >= 0x80 && i < len(iotjson.Filters) {
			s.log.Error("devices: the MQTT broker refused a subscription", "topic", iotjson.Filters[i], "reason_code", rc)
		}
	}
	s.mqttReady.Store(true)
}

// received handles one message.
func (s *Service) received(ctx context.Context, p *paho.Publish) {
	tp, ok := iotjson.ParseTopic(p.Topic)
	if !ok {
		return
	}
	in := Reading{APIKey: tp.APIKey, Resource: iotjson.ResourceMQTT, DeviceID: tp.Device, Token: tp.Token, Payload: p.Payload, Attr: tp.Attr}
	if in.Token == "" && p.Properties != nil {
		in.Token = p.Properties.User.Get("token")
	}
	var err error
	if tp.Kind == "cmdexe" {
		err = s.CommandResult(ctx, in)
	} else {
		err = s.Ingest(ctx, in)
	}
	if err != nil {
		var e *iotjson.Error
		if errors.As(err, &e) {
			s.log.Debug("devices: MQTT message refused", "topic", p.Topic, "err", err)
		} else {
			s.log.Error("devices: take an MQTT message", "topic", p.Topic, "err", err)
		}
	}
}
