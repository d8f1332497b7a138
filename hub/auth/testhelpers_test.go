package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// clock is a settable fake clock for Options.Now.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }
func docs(t *testing.T, st store.Store, col string) []store.Document {
	t.Helper()
	ds, err := st.Find(context.Background(), SystemLayer, col, store.FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// errClass names the sentinel err wraps, for got/want messages.
func errClass(err error) string {
	for _, s := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrExists, ErrInvalid} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err == nil {
		return "nil"
	}
	return "other: " + err.Error()
}

// bootstrapped returns a Service with the admin user and a fake clock.
func bootstrapped(t *testing.T, opts Options) (*Service, store.Store, *clock) {
	t.Helper()
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	s, st := newService(t, opts)
	if _, err := s.Bootstrap(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	return s, st, c
}
