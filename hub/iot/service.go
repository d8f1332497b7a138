package iot

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/iotjson"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
)

// Grant is the grant key of the provisioning API: read allows the GET
// routes, write everything else ({"iot": "write"}); admins have both.
const Grant = "iot"

// Authenticator checks a request's credentials; *auth.Service is one.
type Authenticator interface {
	Authenticate(ctx context.Context, id, secret string) (*auth.Principal, error)
}

var _ Authenticator = (*auth.Service)(nil)

// Options configure a Service.
type Options struct {
	// Config is the iot section (Defaults applied).
	Config Config
	// Store is the hub's store, with its history recorder.
	Store store.Store
	// Changes receives the change events of committed readings and
	// provisioning writes (the hub publishes them on NATS as the ingest
	// applier's). Optional.
	Changes func(store.Change)
	// NC, when set, receives the change events of the provisioning
	// collections on <Domain>.storage.changed.system.{iotgroups,iotdevices}:
	// hubs sharing a store (replicas) see each other's config groups,
	// devices and tokens at once, not after a restart.
	NC *nats.Conn
	// Domain is the first token of the change events' subjects.
	Domain string
	// Instance names this hub among hubs sharing the store (its
	// nats.serverName in a cluster; "" for a lone hub). Its readings are
	// then batches of the pseudo-edge <Config.Edge>-<Instance>: hubs
	// numbering batches of one pseudo-edge each from the high-water mark
	// they read at start would have each other's batches skipped as
	// replays.
	Instance string
	// Resync is how often the whole provisioning is read again, for
	// change events lost while NATS was unreachable (default
	// DefaultResync; used with NC only).
	Resync time.Duration
	// Reserved reports layer names a fiware-service cannot map to (the
	// REST API's). Optional.
	Reserved func(layer string) bool
	// Version is reported by /iot/about.
	Version string
	// Port is reported by /iot/about.
	Port string
	// Logger logs; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Converter applies Config.Converters (nil: the converters service is off).
	Converter Converter
}

// Stats counts what the service did.
type Stats struct {
	// Readings counts measurement objects accepted.
	Readings uint64 `json:"readings"`
	// Updates counts document updates written.
	Updates uint64 `json:"updates"`
	// Refused counts requests refused (any error).
	Refused uint64 `json:"refused"`
	// Limited counts requests refused by a device's rate limit.
	Limited uint64 `json:"limited"`
	// Autoprovisioned counts devices created by their first reading.
	Autoprovisioned uint64 `json:"autoprovisioned"`
	// TransformErrors counts expressions that failed on a reading.
	TransformErrors uint64 `json:"transformErrors"`
}

// DefaultResync is Options.Resync's default.
const DefaultResync = time.Minute

// Service is the device-ingestion service.
type Service struct {
	cfg      Config
	nc       *nats.Conn
	domain   string
	resync   time.Duration
	reg      *registry
	w        *writer
	bd       *baddata.Engine
	lim      *limiter
	reserved func(string) bool
	version  string
	port     string
	log      *slog.Logger
	now      func() time.Time
	conv     Converter

	mqtt      mqttClient
	mqttReady atomic.Bool // subscribed to the binding's topics

	readings, updates, refused, limited, autoprov, trErrors atomic.Uint64
}

// New loads the provisioning from the store and returns the service.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Reserved == nil {
		o.Reserved = func(string) bool { return false }
	}
	if o.Resync <= 0 {
		o.Resync = DefaultResync
	}
	// provisioning writes announce themselves like readings, so that the
	// other hubs on the store follow them (Options.NC)
	regStore := o.Store
	if o.Changes != nil {
		regStore = store.WithChanges(o.Store, o.Changes)
	}
	s := &Service{cfg: o.Config, nc: o.NC, domain: o.Domain, resync: o.Resync, reg: newRegistry(regStore), lim: newLimiter(o.Config.RateLimit.PerSecond, o.Config.RateLimit.Burst),
		reserved: o.Reserved, version: o.Version, port: o.Port, log: o.Logger, now: o.Now, conv: o.Converter}
	var err error
	if s.bd, err = baddata.New(o.Config.Rules, baddata.Options{}); err != nil {
		return nil, fmt.Errorf("iot: bad-data rules: %w", err)
	}
	if err := s.reg.load(ctx); err != nil {
		return nil, fmt.Errorf("iot: load the provisioning: %w", err)
	}
	edge := o.Config.Edge
	if o.Instance != "" {
		edge += "-" + o.Instance
	}
	if s.w, err = newWriter(ctx, o.Store, edge, o.Changes); err != nil {
		return nil, fmt.Errorf("iot: %w", err)
	}
	return s, nil
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{Readings: s.readings.Load(), Updates: s.updates.Load(), Refused: s.refused.Load(), Limited: s.limited.Load(),
		Autoprovisioned: s.autoprov.Load(), TransformErrors: s.trErrors.Load()}
}

// Run runs the MQTT binding when iot.mqtt.url is set, follows the
// provisioning changes of other hubs with Options.NC, and sends what the
// bad-data rules produce with time (stale data, interpolation deadlines)
// to the store every second, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.MQTT.URL != "" {
		errc := make(chan error, 1)
		ctx, cancel := context.WithCancel(ctx)
		go func() { errc <- s.runMQTT(ctx) }()
		defer func() {
			cancel()
			<-errc
		}()
	}
	if s.nc != nil {
		follow, err := s.subscribeProvisioning()
		if err != nil {
			return err
		}
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(ctx)
		go func() {
			defer close(done)
			s.followProvisioning(ctx, follow)
		}()
		defer func() {
			cancel()
			<-done
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			us := s.bd.Tick(s.now())
			if len(us) == 0 {
				continue
			}
			model.ReplaceNonFinite(us)
			if err := s.w.write(ctx, us); err != nil && ctx.Err() == nil {
				s.log.Error("iot: write the bad-data rules' timed output", "updates", len(us), "err", err)
			}
		}
	}
}

// Reading is one arrival of measurements from a device, from any binding
// (shared/iotjson).
type Reading = iotjson.Reading

// Ingest checks, transforms and stores one arrival; errors are *Error
// with the IoT agent's names, or internal errors.
func (s *Service) Ingest(ctx context.Context, in Reading) (err error) {
	defer func() {
		if err != nil {
			s.refused.Add(1)
		}
	}()
	now := s.now()
	_, c, err := s.admit(ctx, in, now)
	if err != nil {
		return err
	}
	objs, err := measures(in)
	if err != nil {
		return err
	}
	if objs, err = s.convertMeasures(ctx, in, objs); err != nil {
		return err
	}
	before := c.Tr.Stats().Errors
	updates := c.Apply(objs, now)
	s.trErrors.Add(c.Tr.Stats().Errors - before)
	updates = s.bd.Process(updates, now)
	model.ReplaceNonFinite(updates)
	if err := s.w.write(ctx, updates); err != nil {
		return err
	}
	s.readings.Add(uint64(len(objs)))
	s.updates.Add(uint64(len(updates)))
	return nil
}

// admit checks an arrival: payload size, config group (apikey), device
// (autoprovisioned when allowed), token and rate limit. It returns the
// device and its compiled mapping.
func (s *Service) admit(ctx context.Context, in Reading, now time.Time) (*Device, *compiled, error) {
	if int64(len(in.Payload)) > s.cfg.MaxPayload {
		return nil, nil, payloadTooLarge(s.cfg.MaxPayload)
	}
	g, gen := s.reg.lookupGroup(in.Resource, in.APIKey)
	if g == nil {
		return nil, nil, groupNotFound(in.Resource, in.APIKey)
	}
	dev, hash, c, err := s.reg.resolve(g, gen, in.DeviceID)
	if err != nil {
		return nil, nil, err
	}
	if dev == nil {
		if !*s.cfg.Autoprovision || (g.Autoprovision != nil && !*g.Autoprovision) {
			return nil, nil, deviceNotFound(in.DeviceID)
		}
		if e := s.rateLimit(g.Service, in.DeviceID, now); e != nil {
			return nil, nil, e
		}
		if err := s.autoprovision(ctx, g, in); err != nil {
			return nil, nil, err
		}
		if dev, hash, c, err = s.reg.resolve(g, gen, in.DeviceID); err != nil {
			return nil, nil, err
		}
		if dev == nil {
			return nil, nil, deviceNotFound(in.DeviceID)
		}
		// a device provisioned meanwhile (by a request, or by another hub
		// sharing the store) may be another group's or have a token
		if e := owns(dev, hash, g, in); e != nil {
			return nil, nil, e
		}
	} else {
		if e := owns(dev, hash, g, in); e != nil {
			return nil, nil, e
		}
		if e := s.rateLimit(g.Service, in.DeviceID, now); e != nil {
			return nil, nil, e
		}
	}
	return dev, c, nil
}

// owns checks that a reading of group g may write device dev (whose token
// hash is hash): the device is of the group and the token matches.
func owns(dev *Device, hash string, g *Group, in Reading) *Error {
	if dev.ServicePath != g.Subservice || (dev.APIKey != "" && dev.APIKey != in.APIKey) {
		// a device of another group: not this apikey's to write
		return deviceNotFound(in.DeviceID)
	}
	if hash != "" && !tokenMatches(in.Token, hash) {
		return iotjson.TokenRequired(in.DeviceID)
	}
	return nil
}

func (s *Service) rateLimit(service, id string, now time.Time) *Error {
	ok, wait := s.lim.Allow(deviceKey{service, id}, now)
	if ok {
		return nil
	}
	s.limited.Add(1)
	return iotjson.TooManyRequests(id, s.cfg.RateLimit.PerSecond, s.cfg.RateLimit.Burst, wait)
}

// maxPayloadSetting names the limit of a device's payload in the errors.
const maxPayloadSetting = "iot.maxPayload"

func payloadTooLarge(limit int64) *Error {
	return iotjson.PayloadTooLarge(limit, maxPayloadSetting)
}

// autoprovision creates the device of a first reading from its group: the
// group's entity type, and its entityNameExp or <type>:<id> as entity name.
func (s *Service) autoprovision(ctx context.Context, g *Group, in Reading) error {
	d := &Device{DeviceID: in.DeviceID, Service: g.Service, ServicePath: g.Subservice, EntityType: g.EntityType, APIKey: g.APIKey}
	if e := checkDevice(d); e != nil {
		return e
	}
	if g.EntityNameExp != "" {
		env := map[string]any{"id": d.DeviceID, "type": g.EntityType, "service": g.Service, "subservice": g.Subservice}
		if objs, err := measures(in); err == nil && len(objs) > 0 {
			for k, v := range objs[0] {
				env[k] = v
			}
		}
		v, err := expression.Eval(g.EntityNameExp, env)
		if err != nil {
			return wrongSyntax("entityNameExp of config group %s on device %s: %v", g.APIKey, d.DeviceID, err)
		}
		if name, ok := v.(string); ok && name != "" {
			d.EntityName = name
		}
	}
	if d.EntityName == "" {
		d.EntityName = entityName(d, g)
	}
	if err := s.reg.autoprovision(ctx, d, s.cfg.MaxDevices); err != nil {
		return err
	}
	s.autoprov.Add(1)
	s.log.Info("iot: device autoprovisioned", "service", g.Service, "servicePath", g.Subservice, "device", d.DeviceID, "entity", d.EntityName)
	return nil
}

// measures decodes a reading's payload into measure objects
// (shared/iotjson).
func measures(in Reading) ([]map[string]any, error) { return iotjson.Measures(in.Payload, in.Attr) }
