package mqtt_test

import (
	"testing"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/hub/bridge/mqtt"
)

// BenchmarkMQTTOut: events/s from the change feed to mosquitto at QoS 1,
// each counted once its PUBACK came (no subscriber: the broker's
// acknowledgement is what the bridge waits for).
func BenchmarkMQTTOut(b *testing.B) {
	br := newBroker(b)
	env := bridgetest.New(b)
	cfg := bridge.Config{Name: "mq", Type: bridge.TypeMQTT, URL: "mqtt://" + br.addr, Direction: bridge.Out, Layers: []string{"gridflex"}}
	cfg.Defaults()
	env.BenchOutbound(b, cfg, func() bridge.Sink {
		p, err := mqtt.NewPublisher(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return p
	})
}
