package weather

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

const domain = "xflex"

// natsServer is an embedded NATS server with JetStream; it returns a
// function that makes connections closed with the test.
func natsServer(t *testing.T) func() *nats.Conn {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return func() *nats.Conn {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}

// TestNATS: current and forecast take the REST routes' query options as
// JSON and answer the seed's messages, or an error naming the problem.
func TestNATS(t *testing.T) {
	f := newFakeProviders(t)
	connect := natsServer(t)
	svc, err := New(Options{Config: testConfig(f, ProviderWeatherbit), Store: openStore(t), Logger: quiet, Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Serve(connect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	nc := connect()
	ask := func(action, body string) Reply {
		t.Helper()
		m, err := nc.Request(subject.Weather(domain, action), []byte(body), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		var rep Reply
		if err := json.Unmarshal(m.Data, &rep); err != nil {
			t.Fatalf("%s: %s: %v", action, m.Data, err)
		}
		return rep
	}
	tests := []struct {
		action, body string
		check        func(data any) bool
		err          string
	}{
		{ActionCurrent, `{"cityName":"Valencia","lat":39.469917,"lon":-0.3763}`, func(d any) bool {
			m := d.(map[string]any)
			return m["temperature"] == 18.3 && m["location"].(map[string]any)["name"] == "Valencia"
		}, ""},
		{ActionForecast, `{"cityName":"Valencia","city":"Valencia","country":"ES","hours":3}`, func(d any) bool {
			return len(d.([]any)) == 3
		}, ""},
		{ActionForecast, `{"cityName":"Valencia","postalCode":"46014","country":"ES"}`, func(d any) bool {
			return len(d.([]any)) == MaxHours
		}, ""},
		{ActionCurrent, `{"city":"Valencia"}`, nil, "cityName is mandatory"},
		{ActionCurrent, `{"cityName":"V","city":"Valencia","hours":2}`, nil, "hours applies to forecast only"},
		{ActionForecast, `{"cityName":"V","city":"Valencia","hours":49}`, nil, "hours 49 must be from 1 to 48"},
		{ActionCurrent, `{"cityName":"V","town":"Valencia"}`, nil, `unknown field "town"`},
		{ActionCurrent, `not json`, nil, "invalid request"},
		{ActionCurrent, `{"cityName":"X","city":"Atlantis","country":"ES"}`, nil, ErrNotFound.Error()},
	}
	for _, tt := range tests {
		rep := ask(tt.action, tt.body)
		if tt.err != "" {
			if rep.Status != "error" || !strings.Contains(rep.Message, tt.err) {
				t.Errorf("%s %s: %+v, want an error saying %q", tt.action, tt.body, rep, tt.err)
			}
			continue
		}
		if rep.Status != "success" || !tt.check(rep.Data) {
			t.Errorf("%s %s: %+v", tt.action, tt.body, rep)
		}
	}
	// the provider down: the last good data, with why
	f.down.Store(true)
	svc.cfg.CacheFor = config.Duration(time.Nanosecond)
	rep := ask(ActionCurrent, `{"cityName":"Valencia","lat":39.469917,"lon":-0.3763}`)
	if rep.Status != "success" || rep.Stale == "" || rep.Data.(map[string]any)["stale"] != true {
		t.Errorf("provider down: %+v, want the last good data, stale", rep)
	}
}

// TestRefreshLease: of two hubs on one NATS system one refreshes the
// sites; when it stops, the other takes over and refreshes at once.
func TestRefreshLease(t *testing.T) {
	f := newFakeProviders(t)
	connect := natsServer(t)
	st := openStore(t)
	cfg := testConfig(f, ProviderWeatherbit)
	hours := 0 // current weather only: one call per refresh
	cfg.Hours = &hours
	cfg.Refresh = config.Duration(time.Hour)
	cfg.Lease = config.Duration(time.Second) // roomy: CI runs this under -race on a loaded machine
	start := func(name string) (*Service, func()) {
		svc, err := New(Options{Config: cfg, Store: st, Logger: quiet, NC: connect(), Domain: domain, Instance: name})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		return svc, stop
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 10s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	a, stopA := start("a")
	waitFor("a refreshes", func() bool { return a.Refreshing() && f.calls.Load() == 1 })
	b, _ := start("b")
	// b renews (and fails to take) the lease three times a lease period
	time.Sleep(2 * cfg.Lease.Std())
	if b.Refreshing() || f.calls.Load() != 1 {
		t.Fatalf("b refreshing %v, %d provider calls; want only a to refresh, once", b.Refreshing(), f.calls.Load())
	}
	stopA()
	waitFor("b takes over and refreshes", func() bool { return b.Refreshing() && f.calls.Load() == 2 })
	if _, err := st.Get(context.Background(), "weather", "current", "VLC"); err != nil {
		t.Errorf("site document: %v", err)
	}
}
