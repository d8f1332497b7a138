package agent

import (
	"context"
	"fmt"

	"github.com/gridedge/gridedge/edge/iot"
	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

// startDevices starts the bindings of the devices section: local devices
// pushing IoT Agent JSON over HTTP or MQTT. Their readings, once turned
// into document updates by their attributes, take the pipeline Modbus and
// OPC-UA readings take (transform, rules, virtual sensors, buffer, live
// bus, forwarding to the hub); the bindings run until ctx is done.
func (a *Agent) startDevices(ctx context.Context) error {
	dc := a.cfg.Devices
	if dc == nil {
		return nil
	}
	sink := func(ctx context.Context, us []model.Update) error { return a.pipe.Process(ctx, noSlave, us) }
	svc, err := iot.New(dc, sink, a.log)
	if err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	if dc.HTTP.Listen != "" {
		ln, err := svc.Listen()
		if err != nil {
			return err
		}
		a.wg.Go(func() {
			if err := svc.Serve(ctx, ln); err != nil {
				a.log.Error("devices: HTTP binding stopped", "err", err)
			}
		})
	}
	if dc.MQTT.Enabled {
		b, err := a.devicesBroker()
		if err != nil {
			return err
		}
		a.wg.Go(func() {
			if err := svc.RunMQTT(ctx, b); err != nil {
				a.log.Error("devices: MQTT binding stopped", "err", err)
			}
		})
	}
	a.devices = svc
	a.log.Info("device bindings started", "groups", len(dc.Groups), "devices", len(dc.Devices),
		"http", dc.HTTP.Listen, "mqtt", dc.MQTT.Enabled)
	return nil
}

// devicesBroker is the MQTT binding's broker: devices.mqtt.url, else the
// SETTINGS broker with its credentials and the mqttOptions TLS files (the
// broker of the agent's MQTT bridge).
func (a *Agent) devicesBroker() (iot.Broker, error) {
	mc := a.cfg.Devices.MQTT
	var b iot.Broker
	host := mc.URL
	if host == "" {
		if a.cfg.Settings == nil || a.cfg.Settings.MQTT == nil {
			return b, fmt.Errorf("devices.mqtt: no url and no SETTINGS mqtt broker")
		}
		host = a.cfg.Settings.MQTT.Host
		if c := a.cfg.Settings.MQTT.Credentials; c != nil {
			b.Username, b.Password = c.Username, c.Password
		}
	} else {
		b.Username, b.Password = mc.Username, mc.Password
	}
	u, err := mqtt.BrokerURL(host)
	if err != nil {
		return b, fmt.Errorf("devices.mqtt: %w", err)
	}
	b.URL = u
	if b.TLS, err = a.cfg.MQTTOptions.TLSConfig(u); err != nil {
		return b, fmt.Errorf("devices.mqtt: %w", err)
	}
	return b, nil
}

// devicesStats returns the device bindings' counters (nil without a
// devices section).
func (a *Agent) devicesStats() *iot.Stats {
	if a.devices == nil {
		return nil
	}
	st := a.devices.Stats()
	return &st
}

// validateDevices adds the devices section's problems to es.
func (c *Config) validateDevices(es config.Errors) config.Errors {
	if c.Devices == nil {
		return es
	}
	es = appendErrors(es, "devices", c.Devices.Validate())
	if c.Devices.MQTT.Enabled && c.Devices.MQTT.URL == "" && (c.Settings == nil || c.Settings.MQTT == nil) {
		es.Add("devices.mqtt.url", "is required when the SETTINGS have no mqtt broker")
	}
	return es
}
