package opcua_test

// Interop tests against asyncua (PyPI), the Python OPC-UA server, run by
// scripts/interop/asyncua_server.py. They skip when python3 with asyncua
// is missing (scripts/install-test-deps.sh installs it) and fail instead
// when GRIDEDGE_REQUIRE_INTEROP=1, as in CI.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/edge/opcua/opcuatest"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/wire"
)

// collector is a Sink that keeps every update.
type collector struct {
	mu      sync.Mutex
	updates []model.Update
	signal  chan struct{}
}

func newCollector() *collector { return &collector{signal: make(chan struct{}, 1)} }

func (c *collector) sink(_ context.Context, us []model.Update) error {
	c.mu.Lock()
	c.updates = append(c.updates, us...)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
	return nil
}

// measurements returns every measurement called name, in arrival order.
func (c *collector) measurements(name string) []model.Measurement {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []model.Measurement
	for _, u := range c.updates {
		if m, ok := u.Set[model.MeasurementsPrefix+name].(model.Measurement); ok {
			out = append(out, m)
		}
	}
	return out
}

// waitFor waits until cond holds for the collected updates.
func (c *collector) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-c.signal:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// run runs src until the test ends.
func run(t *testing.T, src *opcua.Source) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = src.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func plantServer(url string, mode string, names ...string) *opcua.Server {
	s := &opcua.Server{URL: url, Mode: mode, PollInterval: config.Duration(200 * time.Millisecond),
		PublishingInterval: config.Duration(200 * time.Millisecond), Timeout: config.Duration(5 * time.Second),
		ReconnectMax: config.Duration(time.Second)}
	d := opcua.Document{Document: settings.Document{Layer: "plant", Collection: "boilers", ID: "B1"}}
	for _, n := range names {
		d.Measurements = append(d.Measurements, opcua.Measurement{Name: n, NodeID: "ns=2;s=Plant." + n})
	}
	s.Documents = []opcua.Document{d}
	s.Defaults()
	return s
}

// TestAsyncuaDataTypes reads every type the test server serves, by poll
// and by subscription, and checks values, qualities, source timestamps and
// that each update survives the wire encoding the buffer stores.
func TestAsyncuaDataTypes(t *testing.T) {
	srv := opcuatest.Start(t)
	names := []string{"Temperature", "Flag", "Level", "Big", "Name", "Samples", "Codes", "Started", "Label", "Guess", "Broken"}
	started := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	want := map[string]model.Measurement{
		"Temperature": {Value: 21.5, Quality: model.QualityGood},
		"Flag":        {Value: true, Quality: model.QualityGood},
		"Level":       {Value: int16(-12), Quality: model.QualityGood},
		"Big":         {Value: int64(9007199254740993), Quality: model.QualityGood},
		"Name":        {Value: "boiler 1", Quality: model.QualityGood},
		"Samples":     {Value: []any{1.5, 2.5, 3.5}, Quality: model.QualityGood},
		"Codes":       {Value: []any{int32(1), int32(-2), int32(3)}, Quality: model.QualityGood},
		"Started":     {Value: started, Quality: model.QualityGood},
		"Label":       {Value: "Kessel", Quality: model.QualityGood},
		"Guess":       {Value: 7.5, Quality: model.QualitySuspect},
		"Broken":      {Value: nil, Quality: model.QualityBad}, // a bad status comes without a value
	}
	for _, mode := range []string{opcua.ModePoll, opcua.ModeSubscribe} {
		t.Run(mode, func(t *testing.T) {
			col := newCollector()
			s := plantServer(srv.URL(), mode, names...)
			if err := (&opcua.Config{Servers: []opcua.Server{*s}}).Validate(); err != nil {
				t.Fatal(err)
			}
			src, err := opcua.NewSource(s, col.sink, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().Add(-time.Minute)
			run(t, src)
			// the first value of each node that came from the server
			// (a failed connection would send values marked bad with the
			// time of the failure)
			first := func(n string) (model.Measurement, bool) {
				for _, m := range col.measurements(n) {
					if m.Value != nil || (n == "Broken" && m.Timestamp.Before(before.Add(time.Minute))) {
						return m, true
					}
				}
				return model.Measurement{}, false
			}
			col.waitFor(t, "every measurement", 10*time.Second, func() bool {
				for _, n := range names {
					if _, ok := first(n); !ok {
						return false
					}
				}
				return true
			})
			for _, n := range names {
				got, _ := first(n)
				w := want[n]
				if !reflect.DeepEqual(got.Value, w.Value) || got.Quality != w.Quality {
					t.Errorf("%s = %#v quality %d, want %#v quality %d", n, got.Value, got.Quality, w.Value, w.Quality)
				}
				if got.Timestamp.Before(before) || got.Timestamp.Location() != time.UTC {
					t.Errorf("%s timestamp %v: want the server's recent source timestamp in UTC", n, got.Timestamp)
				}
			}
			// every update is what the buffer stores: encode and decode it
			col.mu.Lock()
			defer col.mu.Unlock()
			dict := &wire.MemDict{}
			for i := range col.updates {
				u := &col.updates[i]
				if err := u.Validate(); err != nil {
					t.Fatalf("update %d: %v", i, err)
				}
				b, err := wire.AppendUpdate(nil, u, dict)
				if err != nil {
					t.Fatalf("encode update %d: %v", i, err)
				}
				back, err := wire.DecodeUpdate(b, dict)
				if err != nil {
					t.Fatalf("decode update %d: %v", i, err)
				}
				if len(back.Set) != len(u.Set) || back.ID != "B1" {
					t.Fatalf("update %d decoded as %+v", i, back)
				}
			}
			if st := src.Stats(); !st.Connected || st.Connects != 1 || st.Items != len(names) {
				t.Errorf("stats %+v: want connected once with %d items", st, len(names))
			}
		})
	}
}

// TestAsyncuaSubscriptionSurvivesRestart kills the server under a
// subscription: the measurement turns bad once (last value kept), then,
// with the server back on the same port, the source reconnects, creates
// the subscription again and values flow with good quality.
func TestAsyncuaSubscriptionSurvivesRestart(t *testing.T) {
	srv := opcuatest.Start(t)
	col := newCollector()
	s := plantServer(srv.URL(), opcua.ModeSubscribe, "Counter")
	src, err := opcua.NewSource(s, col.sink, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
	good := func(from int) func() bool {
		return func() bool {
			ms := col.measurements("Counter")
			n := 0
			for _, m := range ms[min(from, len(ms)):] {
				if m.Quality == model.QualityGood {
					n++
				}
			}
			return n >= 3
		}
	}
	col.waitFor(t, "counter values", 10*time.Second, good(0))
	srv.Stop()
	col.waitFor(t, "a bad-quality counter after the server died", 10*time.Second, func() bool {
		ms := col.measurements("Counter")
		return ms[len(ms)-1].Quality == model.QualityBad
	})
	ms := col.measurements("Counter")
	bad := ms[len(ms)-1]
	if bad.Value == nil || bad.Value != ms[len(ms)-2].Value {
		t.Errorf("bad measurement %+v: want the last value %v kept", bad, ms[len(ms)-2].Value)
	}
	mark := len(ms)
	srv.Restart()
	col.waitFor(t, "counter values after the restart", 20*time.Second, good(mark))
	if st := src.Stats(); st.Connects < 2 || st.Subscribed != 1 {
		t.Errorf("stats %+v: want 2+ connects and 1 monitored item", st)
	}
	// only one bad mark while the server was away
	nbad := 0
	for _, m := range col.measurements("Counter") {
		if m.Quality == model.QualityBad {
			nbad++
		}
	}
	if nbad != 1 {
		t.Errorf("%d bad-quality updates, want 1", nbad)
	}
}

// TestAsyncuaDeadband subscribes to a ramp that grows by 0.1 every 100ms
// three times: without a deadband, with an absolute deadband of 0.05 and
// one of 0.15. asyncua compares each sample with the previous sample (not
// with the last value reported, as OPC-UA Part 4 says), so the 0.15 item
// reports only its initial value and the 0.05 item every step: which
// shows that the filter reaches the server with its type and value.
func TestAsyncuaDeadband(t *testing.T) {
	srv := opcuatest.Start(t)
	col := newCollector()
	s := plantServer(srv.URL(), opcua.ModeSubscribe)
	fast := config.Duration(50 * time.Millisecond)
	s.PublishingInterval = config.Duration(100 * time.Millisecond)
	s.Documents[0].Measurements = []opcua.Measurement{
		{Name: "all", NodeID: "ns=2;s=Plant.Ramp", SamplingInterval: &fast},
		{Name: "small", NodeID: "ns=2;s=Plant.Ramp", SamplingInterval: &fast, Deadband: 0.05},
		{Name: "large", NodeID: "ns=2;s=Plant.Ramp", SamplingInterval: &fast, Deadband: 0.15},
	}
	s.Defaults()
	src, err := opcua.NewSource(s, col.sink, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
	col.waitFor(t, "10 values", 15*time.Second, func() bool { return len(col.measurements("all")) >= 10 })
	col.waitFor(t, "5 values with deadband 0.05", 5*time.Second, func() bool { return len(col.measurements("small")) >= 5 })
	if st := src.Stats(); st.Subscribed != 3 || st.BadItems != 0 {
		t.Fatalf("stats %+v: want 3 monitored items accepted", st)
	}
	if n := len(col.measurements("large")); n != 1 {
		t.Errorf("with deadband 0.15, %d values reported for steps of 0.1, want only the initial one", n)
	}
}

// TestAsyncuaBrowseReadWrite is what `gridedge opcua` does.
func TestAsyncuaBrowseReadWrite(t *testing.T) {
	srv := opcuatest.Start(t)
	s := plantServer(srv.URL(), opcua.ModePoll, "Temperature")
	ctx := context.Background()
	cn, err := opcua.Connect(ctx, s, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	var found []string
	err = cn.Browse(ctx, "ns=2;s=Plant", 1, func(r opcua.Ref) error {
		found = append(found, r.NodeID+" "+r.BrowseName+" "+r.Class)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(found, "\n"), "ns=2;s=Plant.Setpoint 2:Setpoint Variable") {
		t.Errorf("browse found %q, want Plant.Setpoint", found)
	}
	for _, tc := range []struct {
		node, text string
		want       any
		err        bool
	}{
		{"ns=2;s=Plant.Setpoint", "61.25", 61.25, false},
		{"ns=2;s=Plant.Setpoint", "warm", nil, true},
		{"ns=2;s=Plant.Temperature", "30", nil, true}, // not writable
		{"ns=2;s=Plant.Nope", "1", nil, true},
	} {
		_, err := cn.Write(ctx, tc.node, tc.text)
		if (err != nil) != tc.err {
			t.Errorf("write %s %q: err %v, want error %v", tc.node, tc.text, err, tc.err)
			continue
		}
		if tc.err {
			continue
		}
		dvs, err := cn.Read(ctx, tc.node)
		if err != nil {
			t.Fatal(err)
		}
		if got := opcua.Value(dvs[0].Value.Value()); got != tc.want {
			t.Errorf("read back %s = %v, want %v", tc.node, got, tc.want)
		}
	}
}

// pki is the certificates of a security test, in files.
type pki struct {
	dir                           string
	serverCert, serverKey, caCert string
	otherCA, otherCert, otherKey  string
	clientCert, clientKey         string
	userCert, userKey             string
}

func writeCert(t *testing.T, dir, name string, o opcua.CertOptions) (certFile, keyFile string) {
	t.Helper()
	der, _, key, err := opcua.NewCert(o)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".der"), filepath.Join(dir, name+".pem")
	if err := os.WriteFile(certFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, opcua.PEMKey(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func newPKI(t *testing.T) *pki {
	p := &pki{dir: t.TempDir()}
	caDER, ca, caKey, err := opcua.NewCert(opcua.CertOptions{CommonName: "test CA", IsCA: true})
	if err != nil {
		t.Fatal(err)
	}
	p.caCert = filepath.Join(p.dir, "ca.pem")
	if err := os.WriteFile(p.caCert, opcua.PEMCert(caDER), 0o600); err != nil {
		t.Fatal(err)
	}
	p.serverCert, p.serverKey = writeCert(t, p.dir, "server", opcua.CertOptions{CommonName: "asyncua",
		ApplicationURI: "urn:gridedge:test:server", Hosts: []string{"127.0.0.1", "localhost"}, Issuer: ca, IssuerKey: caKey})
	p.otherCA, _ = writeCert(t, p.dir, "otherca", opcua.CertOptions{CommonName: "other CA", IsCA: true})
	p.otherCert, p.otherKey = writeCert(t, p.dir, "other", opcua.CertOptions{CommonName: "impostor", ApplicationURI: "urn:gridedge:test:server"})
	p.clientCert, p.clientKey = writeCert(t, p.dir, "client", opcua.CertOptions{CommonName: "gridedge agent", ApplicationURI: "urn:gridedge:agent"})
	p.userCert, p.userKey = writeCert(t, p.dir, "user", opcua.CertOptions{CommonName: "operator"})
	return p
}

// TestAsyncuaSecurity connects with Basic256Sha256 Sign and SignAndEncrypt,
// as anonymous, user/password and certificate users, trusting the server
// by its certificate or its CA, and checks what is refused: an untrusted
// server certificate (another certificate, another CA), a wrong password,
// an unknown user certificate, a policy the server does not offer.
func TestAsyncuaSecurity(t *testing.T) {
	p := newPKI(t)
	srv := opcuatest.Start(t, "--security", "basic256sha256", "--cert", p.serverCert, "--key", p.serverKey,
		"--user", "alice:s3cret", "--cert-user", p.userCert, "--app-cert", p.clientCert)
	base := func(mode string) *opcua.Server {
		s := plantServer(srv.URL(), opcua.ModePoll, "Temperature")
		s.Security = opcua.Security{Policy: "Basic256Sha256", Mode: mode, CertFile: p.clientCert, KeyFile: p.clientKey,
			TrustedCerts: []string{p.serverCert}}
		return s
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(s *opcua.Server)
		want error // nil: connects and reads 21.5; errAny: some error
	}{
		{"sign and encrypt, trusted certificate", func(s *opcua.Server) {}, nil},
		{"sign, trusted CA", func(s *opcua.Server) {
			s.Security.Mode = "Sign"
			s.Security.TrustedCerts, s.Security.CAFile = nil, p.caCert
		}, nil},
		{"user and password", func(s *opcua.Server) {
			s.Identity = opcua.Identity{Type: opcua.IdentityUsername, Username: "alice", Password: "s3cret"}
		}, nil},
		{"user certificate", func(s *opcua.Server) {
			s.Identity = opcua.Identity{Type: opcua.IdentityCertificate, CertFile: p.userCert, KeyFile: p.userKey}
		}, nil},
		{"server certificate not the trusted one", func(s *opcua.Server) { s.Security.TrustedCerts = []string{p.otherCert} }, opcua.ErrUntrustedServer},
		{"server certificate from another CA", func(s *opcua.Server) {
			s.Security.TrustedCerts, s.Security.CAFile = nil, p.otherCA
		}, opcua.ErrUntrustedServer},
		{"wrong password", func(s *opcua.Server) {
			s.Identity = opcua.Identity{Type: opcua.IdentityUsername, Username: "alice", Password: "guess"}
		}, errAny},
		{"unknown user certificate", func(s *opcua.Server) {
			s.Identity = opcua.Identity{Type: opcua.IdentityCertificate, CertFile: p.otherCert, KeyFile: p.otherKey}
		}, errAny},
		{"policy None not offered", func(s *opcua.Server) {
			s.Security = opcua.Security{Policy: "None", Mode: "None"}
		}, opcua.ErrNoEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base("SignAndEncrypt")
			tc.edit(s)
			s.Defaults()
			if err := (&opcua.Config{Servers: []opcua.Server{*s}}).Validate(); err != nil {
				t.Fatalf("config: %v", err)
			}
			cn, err := opcua.Connect(ctx, s, quietLog())
			if tc.want != nil {
				if err == nil {
					cn.Close()
					t.Fatal("connected, want a refusal")
				}
				if tc.want != errAny && !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			dvs, err := cn.Read(ctx, "ns=2;s=Plant.Temperature")
			if err != nil {
				t.Fatal(err)
			}
			if v := opcua.Value(dvs[0].Value.Value()); v != 21.5 {
				t.Errorf("temperature %v, want 21.5", v)
			}
		})
	}
}

var errAny = errors.New("any error")
