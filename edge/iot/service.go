package iot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/iotjson"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// Sink takes a device's updates into the agent's pipeline (transformation,
// rules, virtual sensors, buffer, live bus): the path every reading takes.
type Sink func(ctx context.Context, updates []model.Update) error

// Stats counts what the service did.
type Stats struct {
	// Readings counts measurement objects accepted.
	Readings uint64 `json:"readings"`
	// Updates counts document updates sent into the pipeline.
	Updates uint64 `json:"updates"`
	// Refused counts arrivals refused (any error).
	Refused uint64 `json:"refused"`
	// Limited counts arrivals refused by a device's rate limit.
	Limited uint64 `json:"limited"`
	// Autoprovisioned counts devices created by their first reading.
	Autoprovisioned uint64 `json:"autoprovisioned"`
	// TransformErrors counts expressions that failed on a reading.
	TransformErrors uint64 `json:"transformErrors"`
	// MQTTConnected tells whether the MQTT binding is subscribed.
	MQTTConnected bool `json:"mqttConnected"`
	// HTTPAddr is the HTTP binding's address ("" when off).
	HTTPAddr string `json:"httpAddr,omitempty"`
}

type groupKey struct{ resource, apikey string }

type deviceKey struct{ service, id string }

// device is a provisioned or autoprovisioned device.
type device struct {
	dev       iotjson.Device
	tokenHash string
	c         *iotjson.Compiled // nil until its first reading
}

// Service admits the readings of local devices and sends them into the
// agent's pipeline.
type Service struct {
	cfg  *Config
	sink Sink
	log  *slog.Logger
	now  func() time.Time
	lim  *iotjson.Limiter[deviceKey]

	groups map[groupKey]*iotjson.Group // read-only after New

	mu      sync.RWMutex
	devices map[deviceKey]*device
	auto    int // autoprovisioned devices

	mqttReady atomic.Bool
	httpAddr  atomic.Pointer[string]

	readings, updates, refused, limited, autoprov, trErrors atomic.Uint64
}

// New returns the service of cfg (Defaults applied, validated); sink
// receives the updates of every accepted reading.
func New(cfg *Config, sink Sink, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, sink: sink, log: log, now: time.Now,
		lim:    iotjson.NewLimiter[deviceKey](cfg.RateLimit.PerSecond, cfg.RateLimit.Burst),
		groups: map[groupKey]*iotjson.Group{}, devices: map[deviceKey]*device{}}
	for i := range cfg.Groups {
		g := cfg.Groups[i]
		s.groups[groupKey{g.Resource, g.APIKey}] = &g
	}
	for i := range cfg.Devices {
		d := cfg.Devices[i]
		e := &device{dev: d.Device, tokenHash: strings.ToLower(d.TokenHash)}
		c, err := s.compile(&e.dev)
		if err != nil {
			return nil, fmt.Errorf("devices[%d] (%s): %w", i, d.DeviceID, err)
		}
		e.c = c
		s.devices[deviceKey{d.Service, d.DeviceID}] = e
	}
	return s, nil
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	st := Stats{Readings: s.readings.Load(), Updates: s.updates.Load(), Refused: s.refused.Load(), Limited: s.limited.Load(),
		Autoprovisioned: s.autoprov.Load(), TransformErrors: s.trErrors.Load(), MQTTConnected: s.mqttReady.Load()}
	if a := s.httpAddr.Load(); a != nil {
		st.HTTPAddr = *a
	}
	return st
}

// Reading is one arrival of measurements from a device, from any binding
// (shared/iotjson).
type Reading = iotjson.Reading

// Ingest checks and transforms one arrival and sends its updates into the
// pipeline; errors are *iotjson.Error with the IoT agent's names, or
// errors of the pipeline.
func (s *Service) Ingest(ctx context.Context, in Reading) (err error) {
	defer func() {
		if err != nil {
			s.refused.Add(1)
		}
	}()
	now := s.now()
	c, err := s.admit(in, now)
	if err != nil {
		return err
	}
	objs, err := iotjson.Measures(in.Payload, in.Attr)
	if err != nil {
		return err
	}
	before := c.Tr.Stats().Errors
	updates := c.Apply(objs, now)
	s.trErrors.Add(c.Tr.Stats().Errors - before)
	if err := s.send(ctx, updates); err != nil {
		return err
	}
	s.readings.Add(uint64(len(objs)))
	return nil
}

// CommandResult takes a device's answer to commands ({"<cmd>": result},
// MQTT …/cmdexe) as measurements <cmd>_status = "OK" and <cmd>_info =
// result of its document, as the IoT agents update the command's
// attributes.
func (s *Service) CommandResult(ctx context.Context, in Reading) (err error) {
	defer func() {
		if err != nil {
			s.refused.Add(1)
		}
	}()
	now := s.now()
	c, err := s.admit(in, now)
	if err != nil {
		return err
	}
	objs, err := iotjson.Measures(in.Payload, "")
	if err != nil {
		return err
	}
	ms := map[string]model.Measurement{}
	for k, v := range objs[0] {
		ms[k+"_status"] = model.Measurement{Value: "OK", Quality: model.QualityGood, Timestamp: now.UTC()}
		ms[k+"_info"] = model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: now.UTC()}
	}
	return s.send(ctx, []model.Update{model.MeasurementUpdate(c.Doc.Layer, c.Doc.Collection, c.Doc.ID, now, ms)})
}

func (s *Service) send(ctx context.Context, updates []model.Update) error {
	if len(updates) == 0 {
		return nil
	}
	if err := s.sink(ctx, updates); err != nil {
		return fmt.Errorf("devices: take %d updates into the pipeline: %w", len(updates), err)
	}
	s.updates.Add(uint64(len(updates)))
	return nil
}

// groupByKey returns the group of an apikey for resource, else the only
// group with that apikey.
func (s *Service) groupByKey(resource, apikey string) *iotjson.Group {
	if g := s.groups[groupKey{resource, apikey}]; g != nil {
		return g
	}
	var found *iotjson.Group
	for k, g := range s.groups {
		if k.apikey == apikey {
			if found != nil {
				return nil
			}
			found = g
		}
	}
	return found
}

// groupOf is the group of a device's readings: the one of its apikey, or
// the only group of its service path.
func (s *Service) groupOf(d *iotjson.Device) *iotjson.Group {
	var found *iotjson.Group
	for _, g := range s.groups {
		if g.Service != d.Service || g.Subservice != d.ServicePath {
			continue
		}
		if d.APIKey != "" && g.APIKey == d.APIKey {
			return g
		}
		if d.APIKey == "" {
			if found != nil {
				return nil
			}
			found = g
		}
	}
	return found
}

// compile builds a device's transformation; its document id must be a
// NATS subject token (the live bus and the uplink's subjects carry it).
func (s *Service) compile(d *iotjson.Device) (*iotjson.Compiled, error) {
	c, err := iotjson.Compile(d, s.groupOf(d))
	if err != nil {
		return nil, err
	}
	if c.Doc.Collection == "" {
		return nil, iotjson.MissingAttributes("device %s has no entity_type and no config group to take it from", d.DeviceID)
	}
	if err := subject.CheckToken("entity name", c.Doc.ID); err != nil {
		return nil, iotjson.WrongSyntax("device %s: %v", d.DeviceID, err)
	}
	return c, nil
}

// admit checks an arrival: payload size, config group (apikey), device
// (autoprovisioned when allowed), token and rate limit. It returns the
// device's compiled mapping.
func (s *Service) admit(in Reading, now time.Time) (*iotjson.Compiled, error) {
	if int64(len(in.Payload)) > s.cfg.MaxPayload {
		return nil, iotjson.PayloadTooLarge(s.cfg.MaxPayload, "devices.maxPayload")
	}
	g := s.groupByKey(in.Resource, in.APIKey)
	if g == nil {
		return nil, iotjson.GroupNotFound(in.Resource, in.APIKey)
	}
	k := deviceKey{g.Service, in.DeviceID}
	s.mu.RLock()
	e := s.devices[k]
	s.mu.RUnlock()
	if e == nil {
		if !*s.cfg.Autoprovision || (g.Autoprovision != nil && !*g.Autoprovision) {
			return nil, iotjson.DeviceNotFound(in.DeviceID)
		}
		if err := s.rateLimit(k, now); err != nil {
			return nil, err
		}
		return s.autoprovision(g, in)
	}
	if e.dev.ServicePath != g.Subservice || (e.dev.APIKey != "" && e.dev.APIKey != in.APIKey) {
		// a device of another group: not this apikey's to write
		return nil, iotjson.DeviceNotFound(in.DeviceID)
	}
	if e.tokenHash != "" && !iotjson.TokenMatches(in.Token, e.tokenHash) {
		return nil, iotjson.TokenRequired(in.DeviceID)
	}
	if err := s.rateLimit(k, now); err != nil {
		return nil, err
	}
	return e.c, nil
}

func (s *Service) rateLimit(k deviceKey, now time.Time) error {
	ok, wait := s.lim.Allow(k, now)
	if ok {
		return nil
	}
	s.limited.Add(1)
	return iotjson.TooManyRequests(k.id, s.cfg.RateLimit.PerSecond, s.cfg.RateLimit.Burst, wait)
}

// autoprovision creates the device of a first reading from its group, in
// memory: the group's entity type, and its entityNameExp or <type>:<id> as
// entity name.
func (s *Service) autoprovision(g *iotjson.Group, in Reading) (*iotjson.Compiled, error) {
	d := &iotjson.Device{DeviceID: in.DeviceID, Service: g.Service, ServicePath: g.Subservice, EntityType: g.EntityType, APIKey: g.APIKey}
	if e := iotjson.CheckDevice(d); e != nil {
		return nil, e
	}
	if g.EntityNameExp != "" {
		env := map[string]any{"id": d.DeviceID, "type": g.EntityType, "service": g.Service, "subservice": g.Subservice}
		if objs, err := iotjson.Measures(in.Payload, in.Attr); err == nil && len(objs) > 0 {
			for k, v := range objs[0] {
				env[k] = v
			}
		}
		v, err := expression.Eval(g.EntityNameExp, env)
		if err != nil {
			return nil, iotjson.WrongSyntax("entityNameExp of config group %s on device %s: %v", g.APIKey, d.DeviceID, err)
		}
		if name, ok := v.(string); ok && name != "" {
			d.EntityName = name
		}
	}
	if d.EntityName == "" {
		d.EntityName = iotjson.EntityName(d, g)
	}
	c, err := iotjson.Compile(d, g)
	if err != nil {
		return nil, err
	}
	if err := subject.CheckToken("entity name", c.Doc.ID); err != nil {
		return nil, iotjson.WrongSyntax("device %s: %v", d.DeviceID, err)
	}
	k := deviceKey{d.Service, d.DeviceID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.devices[k]; e != nil {
		return e.c, nil // provisioned meanwhile
	}
	if s.auto >= s.cfg.MaxDevices {
		return nil, &iotjson.Error{Code: 403, Name: iotjson.NameDeviceLimit,
			Message: fmt.Sprintf("device %s cannot be autoprovisioned: the agent has devices.maxDevices (%d) autoprovisioned devices", d.DeviceID, s.cfg.MaxDevices)}
	}
	s.devices[k] = &device{dev: *d, c: c}
	s.auto++
	s.autoprov.Add(1)
	s.log.Info("devices: device autoprovisioned", "service", g.Service, "servicePath", g.Subservice, "device", d.DeviceID, "entity", d.EntityName)
	return c, nil
}
