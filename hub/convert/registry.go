package convert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// Default place of the transformations: layer "converters", collection
// "transformations" (MongoDB collection converters_transformations). The
// seed keeps them in "a MongoDB collection" without naming it.
const (
	DefaultLayer      = "converters"
	DefaultCollection = "transformations"
)

// Config is the converters section of the hub's services config.
type Config struct {
	// Enabled starts the converter service: the NATS responders and
	// POST /api/v2/converters/{id}/test (default false).
	Enabled bool `json:"enabled,omitempty"`
	// Layer holds the transformations (default "converters"); created at
	// start with Collection when missing.
	Layer string `json:"layer,omitempty"`
	// Collection holds the transformations (default "transformations").
	Collection string `json:"collection,omitempty"`
	// Limits are the budgets of every call.
	Limits Limits `json:"limits,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Layer == "" {
		c.Layer = DefaultLayer
	}
	if c.Collection == "" {
		c.Collection = DefaultCollection
	}
	c.Limits.Defaults()
}

// Registry finds transformations by id in the store and keeps each
// compiled until its document changes (cache key: _id and _updated). It is
// safe for concurrent use.
type Registry struct {
	st     store.Store
	layer  string
	col    string
	lim    Limits
	log    *slog.Logger
	mu     sync.Mutex
	cache  map[string]cached
	misses uint64
}

type cached struct {
	version time.Time
	conv    *Converter
	err     error
}

// NewRegistry returns a registry of the transformations in cfg's layer and
// collection of st.
func NewRegistry(st store.Store, cfg Config, log *slog.Logger) *Registry {
	cfg.Defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{st: st, layer: cfg.Layer, col: cfg.Collection, lim: cfg.Limits, log: log, cache: map[string]cached{}}
}

// Layer is the layer that holds the transformations.
func (r *Registry) Layer() string { return r.layer }

// Collection is the collection that holds the transformations.
func (r *Registry) Collection() string { return r.col }

// Get returns the compiled transformation id, compiling it when its
// document is new or changed. An unknown id is ErrNotFound; a malformed
// document ErrInvalid.
func (r *Registry) Get(ctx context.Context, id string) (*Converter, error) {
	doc, err := r.st.Get(ctx, r.layer, r.col, id)
	if errors.Is(err, store.ErrNotFound) {
		r.Forget(id) // deleted: its compiled form goes too
		return nil, fmt.Errorf("%w: no transformation %q in %s/%s", ErrNotFound, id, r.layer, r.col)
	}
	if err != nil {
		return nil, fmt.Errorf("read transformation %q: %w", id, err)
	}
	version, _ := doc[store.FieldUpdated].(time.Time)
	r.mu.Lock()
	c, ok := r.cache[id]
	r.mu.Unlock()
	if ok && c.version.Equal(version) && !version.IsZero() {
		return c.conv, c.err
	}
	t, err := FromDocument(doc)
	var conv *Converter
	if err == nil {
		conv, err = Compile(t, r.lim)
	}
	r.mu.Lock()
	r.cache[id] = cached{version: version, conv: conv, err: err}
	r.misses++
	r.mu.Unlock()
	if err != nil {
		r.log.Warn("converters: transformation does not compile", "id", id, "err", err)
	}
	return conv, err
}

// Compiles counts the compilations (cache misses).
func (r *Registry) Compiles() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.misses
}

// Forget drops id from the cache (Get does when the document is gone,
// and notices a new _updated by itself).
func (r *Registry) Forget(id string) {
	r.mu.Lock()
	delete(r.cache, id)
	r.mu.Unlock()
}

// Apply transforms doc with transformation id.
func (r *Registry) Apply(ctx context.Context, id string, doc map[string]any) (any, error) {
	c, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.Apply(doc)
}

// Test is Apply for POST /converters/{id}/test and <domain>.converters.test.
func (r *Registry) Test(ctx context.Context, id string, doc map[string]any) (any, error) {
	return r.Apply(ctx, id, doc)
}

// TestInline compiles t (not stored) and applies it to doc.
func (r *Registry) TestInline(t *Transformation, doc map[string]any) (any, error) {
	c, err := Compile(t, r.lim)
	if err != nil {
		return nil, err
	}
	return c.Apply(doc)
}

// EnsureCollection creates the layer and collection of the
// transformations when missing (an existing layer gets the collection
// added; nothing else of it changes).
func (r *Registry) EnsureCollection(ctx context.Context) error {
	return store.PutCollection(ctx, r.st, r.layer, r.col, store.Layer{Label: "Data-model converters (seed 3.2.3)"})
}
