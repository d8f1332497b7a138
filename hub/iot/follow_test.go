package iot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// embeddedNATS starts an in-process nats-server and returns its URL.
func embeddedNATS(t *testing.T) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return ns.ClientURL()
}

// replica starts another hub's iot service over h's store and auth, with
// its own NATS connection that publishes its change events as the daemon
// does and follows the provisioning ones; it runs until the test ends.
// instance is Options.Instance, resync Options.Resync; events false leaves NC unset (a hub that
// neither follows nor is followed: no change events either).
func (h *harness) replica(t *testing.T, url, instance string, resync time.Duration, events bool) *harness {
	t.Helper()
	r := &harness{t: t, dir: h.dir, st: h.st, bolt: h.bolt, hist: h.hist, auth: h.auth, clock: h.clock, cfg: h.cfg, admin: h.admin}
	o := Options{Config: h.cfg, Store: h.st, Now: h.clock.Now, Version: "test", Port: "8080", Resync: resync, Instance: instance,
		Reserved: func(l string) bool { return l == "system" || l == "api" }}
	var nc *nats.Conn
	if events {
		var err error
		if nc, err = nats.Connect(url); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		o.NC, o.Domain = nc, "d"
		o.Changes = func(c store.Change) {
			data, err := json.Marshal(c)
			if err != nil {
				t.Error(err)
				return
			}
			if err := nc.Publish(subject.StorageChanged("d", c.Layer, c.Collection), data); err != nil {
				t.Errorf("publish change: %v", err)
			}
		}
	}
	svc, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	r.srv = httptest.NewServer(svc.Mount(http.NotFoundHandler(), h.auth))
	t.Cleanup(r.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if nc != nil {
		// Run subscribed (a group and a device subscription) and flushed
		waitFor(t, "the provisioning subscriptions", func() bool { return nc.NumSubscriptions() == 2 })
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestReplicasShareProvisioning: two hubs on one store, each with the
// provisioning in memory. What is provisioned, changed, tokened or
// deleted through one is what the other serves, without a restart: config
// groups, devices, their tokens and the groups' mappings.
func TestReplicasShareProvisioning(t *testing.T) {
	url := embeddedNATS(t)
	h := newHarness(t, nil)
	a := h.replica(t, url, "a", time.Hour, true)
	b := h.replica(t, url, "b", time.Hour, true)
	hd := h.fiware("smartcity", "/")
	tok := func(s string) http.Header { return http.Header{HeaderDeviceToken: {s}} }
	count := func(r *harness, path string) float64 {
		n, _ := r.must(200, "GET", path, nil, hd)["count"].(float64)
		return n
	}
	var token string // kit1's, made on a

	for _, step := range []struct {
		name string
		do   func(t *testing.T)
		// on b, until it holds
		seen func() bool
		then func(t *testing.T)
	}{
		{"a group made on a is served by b", func(t *testing.T) {
			a.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit",
			 "attributes":[{"object_id":"t","name":"temperature","type":"Number"}]}]}`, hd)
		}, func() bool { return count(b, PathServices) == 1 }, func(t *testing.T) {
			b.must(200, "POST", PathJSON+"?k=k1&i=kit0", `{"t":20}`, nil)
			if v := h.value("smartcity", "Kit", "Kit:kit0", "temperature"); v != 20.0 {
				t.Fatalf("temperature written through b = %v, want 20", v)
			}
		}},
		{"a device autoprovisioned on b is listed by a", func(t *testing.T) {}, func() bool {
			_, m := a.do("GET", PathDevices+"/kit0", nil, hd)
			return m["device_id"] == "kit0"
		}, nil},
		{"a device and its token made on a are checked by b", func(t *testing.T) {
			a.must(200, "POST", PathDevices, `{"devices":[{"device_id":"kit1"}]}`, hd)
			token = a.must(201, "POST", PathDevices+"/kit1/token", nil, hd)["token"].(string)
		}, func() bool {
			code, _ := b.do("POST", PathJSON+"?k=k1&i=kit1", `{"t":1}`, nil)
			return code == 401
		}, func(t *testing.T) {
			b.must(200, "POST", PathJSON+"?k=k1&i=kit1", `{"t":21}`, tok(token))
			b.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=kit1", `{"t":22}`, tok("not-the-token"))
		}},
		{"a token revoked on a is no longer needed on b", func(t *testing.T) {
			a.must(200, "DELETE", PathDevices+"/kit1/token", nil, hd)
		}, func() bool {
			code, _ := b.do("POST", PathJSON+"?k=k1&i=kit1", `{"t":23}`, nil)
			return code == 200
		}, nil},
		{"a group's mapping changed on a is applied by b", func(t *testing.T) {
			a.must(200, "PUT", PathServices+"?resource=/iot/json&apikey=k1",
				`{"attributes":[{"object_id":"t","name":"temperature","type":"Number","expression":"t * 10"}]}`, hd)
		}, func() bool {
			h.clock.Add(time.Second)
			b.must(200, "POST", PathJSON+"?k=k1&i=kit0", `{"t":3}`, nil)
			return h.value("smartcity", "Kit", "Kit:kit0", "temperature") == 30.0
		}, nil},
		{"a device deleted on a is gone from b", func(t *testing.T) {
			a.must(200, "DELETE", PathDevices+"/kit1", nil, hd)
		}, func() bool { return count(b, PathDevices) == 1 }, func(t *testing.T) {
			b.wantError(404, NameDeviceNotFound, "GET", PathDevices+"/kit1", nil, hd)
		}},
		{"a group deleted on b is gone from a", func(t *testing.T) {
			b.must(200, "DELETE", PathServices+"?resource=/iot/json&apikey=k1", nil, hd)
		}, func() bool { return count(a, PathServices) == 0 }, func(t *testing.T) {
			a.wantError(404, NameGroupNotFound, "POST", PathJSON+"?k=k1&i=kit0", `{"t":4}`, nil)
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			a.t, b.t, h.t = t, t, t
			step.do(t)
			waitFor(t, step.name, step.seen)
			if step.then != nil {
				step.then(t)
			}
		})
	}
}

// TestResyncFindsMissedChanges: a change whose event was lost (here, made
// by a hub that publishes none) is found by the next resync, and a resync
// keeps the compiled mappings of what did not change.
func TestResyncFindsMissedChanges(t *testing.T) {
	url := embeddedNATS(t)
	h := newHarness(t, nil)
	quiet := h.replica(t, url, "quiet", time.Hour, false)
	b := h.replica(t, url, "b", 50*time.Millisecond, true)
	hd := h.fiware("smartcity", "/")
	quiet.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit"}]}`, hd)
	quiet.must(200, "POST", PathDevices, `{"devices":[{"device_id":"kit1"}]}`, hd)
	waitFor(t, "b to resync the group and the device", func() bool {
		_, m := b.do("GET", PathDevices+"/kit1", nil, hd)
		return m["device_id"] == "kit1"
	})
	b.must(200, "POST", PathJSON+"?k=k1&i=kit1", `{"t":1}`, nil)
	b.svc.reg.mu.RLock()
	compiled := b.svc.reg.devices[deviceKey{"smartcity", "kit1"}].compiled
	b.svc.reg.mu.RUnlock()
	if compiled == nil {
		t.Fatal("no compiled mapping after a reading")
	}
	time.Sleep(200 * time.Millisecond) // a few resyncs with nothing new
	b.svc.reg.mu.RLock()
	kept := b.svc.reg.devices[deviceKey{"smartcity", "kit1"}].compiled
	b.svc.reg.mu.RUnlock()
	if kept != compiled {
		t.Error("a resync that found nothing new dropped the compiled mapping")
	}
}

// TestReplicasWriteReadings: readings of two hubs on one store, in turns,
// are all written: each hub numbers the batches of its own pseudo-edge
// (with one pseudo-edge, the hub that started with the older high-water
// mark had its batches skipped as replays).
func TestReplicasWriteReadings(t *testing.T) {
	url := embeddedNATS(t)
	h := newHarness(t, nil)
	hubs := []*harness{h.replica(t, url, "a", time.Hour, true), h.replica(t, url, "b", time.Hour, true)}
	hd := h.fiware("smartcity", "/")
	hubs[0].must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit"}]}`, hd)
	waitFor(t, "b to see the group", func() bool {
		n, _ := hubs[1].must(200, "GET", PathServices, nil, hd)["count"].(float64)
		return n == 1
	})
	for i := range 10 {
		r := hubs[i%2]
		h.clock.Add(time.Second)
		r.must(200, "POST", PathJSON+"?k=k1&i=kit", fmt.Sprintf(`{"n":%d}`, i), nil)
		if v := h.value("smartcity", "Kit", "Kit:kit", "n"); v != float64(i) {
			t.Fatalf("reading %d written through hub %d: the document holds %v", i, i%2, v)
		}
	}
	for _, edge := range []string{"iot-a", "iot-b"} {
		if hwm, err := h.st.HighWaterMark(context.Background(), edge); err != nil || hwm == 0 {
			t.Errorf("high-water mark of %s = %d, %v; want the hub's own batches", edge, hwm, err)
		}
	}
}

// TestReplicasRefuseDuplicates: two hubs on one store that have not heard
// of each other's writes (no change events between them) still create a
// config group or a device once: the second creation is refused as a
// duplicate and takes the stored one into memory, and a device
// autoprovisioned by a reading is the stored one, token included.
func TestReplicasRefuseDuplicates(t *testing.T) {
	url := embeddedNATS(t)
	h := newHarness(t, nil)
	a := h.replica(t, url, "a", time.Hour, false)
	b := h.replica(t, url, "b", time.Hour, false)
	hd := h.fiware("smartcity", "/")
	tok := func(s string) http.Header { return http.Header{HeaderDeviceToken: {s}} }
	group := `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit"}]}`

	a.must(200, "POST", PathServices, group, hd)
	b.wantError(409, NameDuplicateGroup, "POST", PathServices, group, hd)
	if n := b.must(200, "GET", PathServices, nil, hd)["count"]; n != 1.0 {
		t.Fatalf("b lists %v groups after the refused duplicate, want a's", n)
	}

	a.must(200, "POST", PathDevices, `{"devices":[{"device_id":"d1"}]}`, hd)
	b.wantError(409, NameDuplicateDeviceID, "POST", PathDevices, `{"devices":[{"device_id":"d1"}]}`, hd)
	b.must(200, "GET", PathDevices+"/d1", nil, hd)

	// d2 has a token on a; b, which does not know d2, autoprovisions it at
	// its first reading and finds a's, token included
	a.must(200, "POST", PathDevices, `{"devices":[{"device_id":"d2"}]}`, hd)
	token := a.must(201, "POST", PathDevices+"/d2/token", nil, hd)["token"].(string)
	b.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=d2", `{"t":1}`, nil)
	b.must(200, "POST", PathJSON+"?k=k1&i=d2", `{"t":2}`, tok(token))
	if v := h.value("smartcity", "Kit", "Kit:d2", "t"); v != 2.0 {
		t.Fatalf("d2's t = %v, want 2 (the reading with the token)", v)
	}
}

// TestReplicasConverge: two hubs provisioning devices and tokens at the
// same time, each hearing the other's events while writing itself, end
// with the same devices and tokens as the store.
func TestReplicasConverge(t *testing.T) {
	url := embeddedNATS(t)
	h := newHarness(t, nil)
	hubs := []*harness{h.replica(t, url, "a", time.Hour, true), h.replica(t, url, "b", time.Hour, true)}
	hd := h.fiware("smartcity", "/")
	hubs[0].must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit"}]}`, hd)
	// b provisions devices of the group's entity type: it must know the group first
	waitFor(t, "b to see the group", func() bool {
		n, _ := hubs[1].must(200, "GET", PathServices, nil, hd)["count"].(float64)
		return n == 1
	})
	const perHub = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perHub*2)
	for i, r := range hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perHub {
				id := fmt.Sprintf("h%d-d%d", i, j)
				if code, body := r.raw("POST", PathDevices, fmt.Sprintf(`{"devices":[{"device_id":%q}]}`, id), hd); code != 200 {
					errs <- fmt.Errorf("POST device %s on hub %d: %d %s", id, i, code, body)
				}
				// the other hub's device of the same number gets a token from this one
				other := fmt.Sprintf("h%d-d%d", 1-i, j)
				if code, _ := r.raw("POST", PathDevices+"/"+other+"/token", nil, hd); code != 201 && code != 404 {
					errs <- fmt.Errorf("POST token of %s on hub %d: %d", other, i, code)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want, err := h.st.Find(context.Background(), SystemLayer, DevicesCollection, store.FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 2*perHub {
		t.Fatalf("%d devices in the store, want %d", len(want), 2*perHub)
	}
	for i, r := range hubs {
		waitFor(t, fmt.Sprintf("hub %d to hold the store's devices and tokens", i), func() bool {
			r.svc.reg.mu.RLock()
			defer r.svc.reg.mu.RUnlock()
			if len(r.svc.reg.devices) != len(want) {
				return false
			}
			for _, doc := range want {
				e, err := deviceOfDoc(doc)
				if err != nil {
					t.Fatal(err)
				}
				if got := r.svc.reg.devices[deviceKey{e.dev.Service, e.dev.DeviceID}]; got == nil || got.tokenHash != e.tokenHash {
					return false
				}
			}
			return true
		})
	}
}

// TestGroupChangeDuringAReading: a reading that read its group before a
// change of the group's mapping, and compiled the device's mapping after
// the change had dropped the compiled ones, is written with the mapping it
// read, but does not leave that old mapping for the readings after it
// (it did: the old mapping stayed until the next change, and a replica
// kept applying a group's old expression).
func TestGroupChangeDuringAReading(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit",
	 "attributes":[{"object_id":"t","name":"temperature","type":"Number"}]}]}`, hd)
	h.must(200, "POST", PathJSON+"?k=k1&i=kit0", `{"t":1}`, nil)

	g, gen := h.svc.reg.lookupGroup("/iot/json", "k1") // the reading in flight reads its group
	h.must(200, "PUT", PathServices+"?resource=/iot/json&apikey=k1",
		`{"attributes":[{"object_id":"t","name":"temperature","type":"Number","expression":"t * 10"}]}`, hd)
	if _, _, c, err := h.svc.reg.resolve(g, gen, "kit0"); err != nil || c == nil {
		t.Fatalf("resolve of the reading in flight: %v, %v", c, err)
	}

	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=kit0", `{"t":3}`, nil)
	if v := h.value("smartcity", "Kit", "Kit:kit0", "temperature"); v != 30.0 {
		t.Fatalf("temperature after the group's change = %v, want 30 (t * 10)", v)
	}
}
