package weather

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// Publisher sends a message to a routing key; *AMQPPublisher is one.
type Publisher interface {
	Publish(ctx context.Context, routingKey string, body []byte) error
}

var _ Publisher = (*AMQPPublisher)(nil)

// Options configure a Service.
type Options struct {
	// Config is the service's config, defaults applied.
	Config Config
	// Store receives the sites' documents; give it the hub's store with
	// history recording and change events.
	Store store.Store
	// Provider answers the queries (nil: the one Config names).
	Provider Provider
	// Publisher, when set, receives every refresh of a site (nil: the AMQP
	// publisher of Config.AMQP, if any).
	Publisher Publisher
	// Logger logs refresh failures (nil: discard).
	Logger *slog.Logger
	// NC, when set, holds the refresh lease, so that one hub of several
	// sharing the NATS system refreshes the sites, and carries the
	// <domain>.weather.<action> requests (Serve).
	NC *nats.Conn
	// Domain is the first token of the subjects and names the lease bucket.
	Domain string
	// Instance names this hub in the lease (a unique suffix is added).
	Instance string
	// LeaseReplicas is the replica count of the lease's key-value bucket
	// (default 1; in a cluster of hubs, ingest.replicas).
	LeaseReplicas int
}

// Service answers the REST routes and refreshes the configured sites.
type Service struct {
	cfg  Config
	st   store.Store
	prov Provider
	pub  Publisher
	log  *slog.Logger
	now  func() time.Time
	opts Options

	// refreshing is whether this hub holds the refresh lease (always true
	// without NC).
	refreshing atomic.Bool

	mu    sync.Mutex
	cache map[string]*entry // Query.key → last good answers
}

// entry is the last good answers for one place.
type entry struct {
	cur   *Current
	curAt time.Time
	fc    []Forecast // MaxHours hours when asked through REST
	fcAt  time.Time
}

// New makes the service; it neither calls the provider nor writes
// anything before Run.
func New(opts Options) (*Service, error) {
	cfg := opts.Config
	if opts.NC != nil {
		if err := subject.CheckToken("domain", opts.Domain); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		// unique even when hubs share a server name
		opts.Instance += "/" + nats.NewInbox()[len(nats.InboxPrefix):]
	}
	s := &Service{cfg: cfg, st: opts.Store, prov: opts.Provider, pub: opts.Publisher, log: opts.Logger,
		now: time.Now, cache: map[string]*entry{}, opts: opts}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.prov == nil {
		client := &http.Client{Timeout: cfg.Timeout.Std()}
		switch cfg.Provider {
		case ProviderWeatherbit:
			s.prov = &Weatherbit{BaseURL: cfg.BaseURL, Key: resolveEnv(cfg.APIKey), Client: client}
		case ProviderOpenMeteo:
			s.prov = &OpenMeteo{BaseURL: cfg.BaseURL, GeocodingURL: cfg.GeocodingURL, Client: client}
		default:
			return nil, fmt.Errorf("%w: unknown provider %q (weatherbit or openmeteo)", ErrInvalid, cfg.Provider)
		}
	}
	if s.pub == nil && cfg.AMQP != nil {
		s.pub = NewAMQPPublisher(*cfg.AMQP, s.log)
	}
	return s, nil
}

// EnsureLayer creates the weather layer and its collections when missing.
func (s *Service) EnsureLayer(ctx context.Context) error {
	l, err := s.st.Layer(ctx, s.cfg.Layer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		l = &store.Layer{ID: s.cfg.Layer, Label: "Weather (seed 3.2.1)"}
	case err != nil:
		return fmt.Errorf("read layer %q: %w", s.cfg.Layer, err)
	}
	changed := false
	for _, col := range []string{CollectionCurrent, CollectionForecast} {
		if l.Collection(col) == nil {
			l.Collections = append(l.Collections, store.Collection{Name: col})
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := s.st.PutLayer(ctx, *l); err != nil {
		return fmt.Errorf("create the weather layer %q: %w", s.cfg.Layer, err)
	}
	return nil
}

// Current answers GET /api/v1/weather: the provider's answer, reused for
// CacheFor; when the provider fails, the last good answer for the place
// marked stale, and the provider's error as why ("" when fresh).
func (s *Service) Current(ctx context.Context, q Query) (c Current, why string, err error) {
	k := q.key()
	s.mu.Lock()
	e := s.cache[k]
	if e != nil && e.cur != nil && s.now().Sub(e.curAt) < s.cfg.CacheFor.Std() {
		c := *e.cur
		s.mu.Unlock()
		c.Location.Name = q.CityName
		return c, "", nil
	}
	s.mu.Unlock()
	c, err = s.prov.Current(ctx, q)
	if err != nil {
		if !errors.Is(err, ErrProvider) {
			return Current{}, "", err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.cache[k]; e != nil && e.cur != nil {
			last := *e.cur
			last.Location.Name, last.Stale = q.CityName, true
			return last, err.Error(), nil
		}
		return Current{}, "", err
	}
	s.remember(k, func(e *entry) { e.cur, e.curAt = &c, s.now() })
	return c, "", nil
}

// Forecast answers GET /api/v1/weatherforecast with the next hours hours,
// as Current does.
func (s *Service) Forecast(ctx context.Context, q Query, hours int) (fc []Forecast, why string, err error) {
	k := q.key()
	named := func(fc []Forecast, stale bool) []Forecast {
		out := make([]Forecast, min(hours, len(fc)))
		for i := range out {
			out[i] = fc[i]
			out[i].Location.Name, out[i].Stale = q.CityName, stale
		}
		return out
	}
	s.mu.Lock()
	e := s.cache[k]
	if e != nil && len(e.fc) >= hours && s.now().Sub(e.fcAt) < s.cfg.CacheFor.Std() {
		out := named(e.fc, false)
		s.mu.Unlock()
		return out, "", nil
	}
	s.mu.Unlock()
	fc, err = s.prov.Forecast(ctx, q, MaxHours)
	if err != nil {
		if !errors.Is(err, ErrProvider) {
			return nil, "", err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.cache[k]; e != nil && len(e.fc) > 0 {
			return named(e.fc, true), err.Error(), nil
		}
		return nil, "", err
	}
	s.remember(k, func(e *entry) { e.fc, e.fcAt = fc, s.now() })
	return named(fc, false), "", nil
}

func (s *Service) remember(k string, set func(*entry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.cache[k]
	if e == nil {
		e = &entry{}
		s.cache[k] = e
	}
	set(e)
}

// Run refreshes every site's current weather each Refresh and its
// forecast each RefreshForecast (none when Hours is 0), at once and then
// periodically, until ctx ends. With Options.NC only the hub holding the
// refresh lease refreshes; a hub taking the lease over refreshes at once.
func (s *Service) Run(ctx context.Context) error {
	if len(s.cfg.Sites) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := s.EnsureLayer(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var kicks []chan struct{} // a refresh round now (a takeover)
	kick := func() chan struct{} {
		c := make(chan struct{}, 1)
		kicks = append(kicks, c)
		return c
	}
	curKick, fcKick := kick(), kick()
	if s.opts.NC == nil {
		s.refreshing.Store(true)
	} else {
		l, err := openLease(ctx, s.opts.NC, s.opts.Domain, s.opts.Instance, s.cfg.Lease.Std(), s.opts.LeaseReplicas)
		if err != nil {
			return err
		}
		s.refreshing.Store(l.Renew(ctx))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Release()
			t := time.NewTicker(max(s.cfg.Lease.Std()/3, time.Millisecond))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				held := l.Renew(ctx)
				if held && !s.refreshing.Load() {
					s.log.Info("weather: this hub refreshes the sites", "instance", s.opts.Instance)
					for _, c := range kicks {
						select {
						case c <- struct{}{}:
						default:
						}
					}
				}
				s.refreshing.Store(held)
			}
		}()
	}
	loop := func(every time.Duration, refresh func(context.Context, Site) error, kicked <-chan struct{}) {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, site := range s.cfg.Sites {
				if !s.refreshing.Load() {
					break
				}
				if err := refresh(ctx, site); err != nil && ctx.Err() == nil {
					s.log.Warn("weather: refresh failed; the last good data stays, marked stale", "site", site.ID, "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-kicked:
			}
		}
	}
	wg.Add(1)
	go loop(s.cfg.Refresh.Std(), s.RefreshCurrent, curKick)
	if s.cfg.Hours == nil || *s.cfg.Hours > 0 {
		wg.Add(1)
		go loop(s.cfg.RefreshForecast.Std(), s.RefreshForecast, fcKick)
	}
	<-ctx.Done()
	return ctx.Err()
}

// Refreshing reports whether this hub refreshes the sites (holds the
// refresh lease).
func (s *Service) Refreshing() bool { return s.refreshing.Load() }

// RefreshCurrent asks for site's current weather and writes it into the
// site's document of the current collection: location, timestamp, one
// measurement per value (so each enters the history), stale false. A
// provider failure leaves the last values and sets stale, staleSince and
// error. The message is then published, when a publisher is set.
func (s *Service) RefreshCurrent(ctx context.Context, site Site) error {
	c, err := s.prov.Current(ctx, site.Query)
	if err != nil {
		s.markStale(ctx, CollectionCurrent, site.ID, err)
		return fmt.Errorf("refresh the current weather of %s: %w", site.ID, err)
	}
	s.remember(site.key(), func(e *entry) { e.cur, e.curAt = &c, s.now() })
	doc, err := currentDocument(site.ID, &c, s.now())
	if err != nil {
		return err
	}
	if _, err := s.st.Bulk(ctx, s.cfg.Layer, CollectionCurrent, []store.Document{doc}, false); err != nil {
		return fmt.Errorf("write the current weather of %s: %w", site.ID, err)
	}
	return s.publish(ctx, s.topic(site, true), c)
}

// RefreshForecast asks for site's forecast (Hours hours) and writes it as
// the site's document of the forecast collection: {location, retrieved,
// hours, forecast: [the seed's messages]}; a failure marks it stale.
func (s *Service) RefreshForecast(ctx context.Context, site Site) error {
	hours := MaxHours
	if s.cfg.Hours != nil {
		hours = min(*s.cfg.Hours, MaxHours)
	}
	fc, err := s.prov.Forecast(ctx, site.Query, hours)
	if err != nil {
		s.markStale(ctx, CollectionForecast, site.ID, err)
		return fmt.Errorf("refresh the forecast of %s: %w", site.ID, err)
	}
	var hoursDoc []any
	if err := roundTrip(fc, &hoursDoc); err != nil {
		return err
	}
	var loc map[string]any
	if err := roundTrip(fc[0].Location, &loc); err != nil {
		return err
	}
	doc := store.Document{store.FieldID: site.ID, "location": loc, "retrieved": s.now().UTC(),
		"timestamp": fc[0].Timestamp, "hours": len(fc), "forecast": hoursDoc, "stale": false, "error": nil, "staleSince": nil}
	if _, err := s.st.Bulk(ctx, s.cfg.Layer, CollectionForecast, []store.Document{doc}, false); err != nil {
		return fmt.Errorf("write the forecast of %s: %w", site.ID, err)
	}
	return s.publish(ctx, s.topic(site, false), fc)
}

// markStale flags a site's document after a failed refresh, keeping its
// values; staleSince keeps the time of the first failure.
func (s *Service) markStale(ctx context.Context, col, id string, cause error) {
	upd := map[string]any{"stale": true, "error": cause.Error()}
	if doc, err := s.st.Get(ctx, s.cfg.Layer, col, id); err == nil && doc["stale"] != true {
		upd["staleSince"] = s.now().UTC()
	} else if errors.Is(err, store.ErrNotFound) {
		return // nothing good to keep yet
	}
	if _, err := s.st.UpdateByID(ctx, s.cfg.Layer, col, id, upd); err != nil {
		s.log.Warn("weather: mark a document stale", "collection", col, "id", id, "err", err)
	}
}

// topic is the routing key of a site's messages: the seed's weatherTopic
// or forecastTopic with '#' replaced by the site's topic.
func (s *Service) topic(site Site, current bool) string {
	if s.cfg.AMQP == nil {
		return site.Topic
	}
	t := s.cfg.AMQP.ForecastTopic
	if current {
		t = s.cfg.AMQP.WeatherTopic
	}
	return strings.ReplaceAll(t, "#", site.Topic)
}

func (s *Service) publish(ctx context.Context, key string, msg any) error {
	if s.pub == nil {
		return nil
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode the weather message: %w", err)
	}
	if err := s.pub.Publish(ctx, key, body); err != nil {
		return fmt.Errorf("publish to %q: %w", key, err)
	}
	return nil
}

// currentDocument is the document of a site's current weather: the seed's
// message with each number as a measurement {value, quality, timestamp}.
func currentDocument(id string, c *Current, now time.Time) (store.Document, error) {
	var flat map[string]any
	if err := roundTrip(c, &flat); err != nil {
		return nil, err
	}
	ts := c.Timestamp.UTC()
	ms := map[string]any{}
	for k, v := range flat {
		if f, ok := v.(float64); ok {
			ms[k] = map[string]any{"value": f, "quality": model.QualityGood, "timestamp": ts}
		}
	}
	doc := store.Document{store.FieldID: id, "location": flat["location"], "timestamp": ts,
		"measurementsTimestamp": ts, "measurements": ms, "retrieved": now.UTC(),
		"stale": false, "error": nil, "staleSince": nil}
	if c.WindDirectionCardinal != "" {
		doc["windDirectionCardinal"] = c.WindDirectionCardinal
	}
	return doc, nil
}

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode a weather message: %w", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode a weather message: %w", err)
	}
	return nil
}

// Close ends the AMQP connection the service opened, if any.
func (s *Service) Close() error {
	if p, ok := s.pub.(*AMQPPublisher); ok {
		return p.Close()
	}
	return nil
}
