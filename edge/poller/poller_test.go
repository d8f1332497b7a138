package poller

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func f64(v float64) *float64 { return &v }

// serve runs a Modbus TCP server for mem and returns a client to it.
func serve(t *testing.T, mem *modbus.Memory) (*modbus.Client, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = (&modbus.Server{Handler: mem, Logger: quiet}).Serve(ctx, l) }()
	c, err := modbus.NewClient("tcp://"+l.Addr().String(), modbus.ClientOptions{Timeout: 300 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stop := func() { cancel(); <-done }
	t.Cleanup(func() { c.Close(); stop() })
	return c, stop
}

var panasonic = []settings.Variable{
	{Name: "temperature", Type: "holding", Address: settings.Address{Register: 1}, Datatype: "16uint", Factor: f64(1)},
	{Name: "luminance", Type: "holding", Address: settings.Address{Register: 2}, Datatype: "16int", Factor: f64(10)},
	{Name: "mode", Type: "holding", Address: settings.Address{Register: 3}, Datatype: "16int",
		Translation: settings.Translation{{Raw: 1, Label: "COLD"}, {Raw: 2, Label: "HEAT"}, {Raw: 3, Label: "FAN"}}},
}

func newPoller(dev Device, vars []settings.Variable, sink Sink, period time.Duration) *Poller {
	return New(dev, Options{Name: "test", Slave: &settings.Slave{SlaveID: 1}, Vars: vars,
		Document: settings.Document{Layer: "site", Collection: "hvac", ID: "A"}, Period: period,
		MaxBackoff: 200 * time.Millisecond, Sink: sink, Logger: quiet})
}

func values(u *model.Update) map[string]any {
	out := map[string]any{}
	for k, v := range u.Set {
		if m, ok := v.(model.Measurement); ok {
			out[k[len(model.MeasurementsPrefix):]] = m.Value
		}
	}
	return out
}

func TestPollOnceDecodesTheSeedExample(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21, 0xFFFE, 3)
	c, _ := serve(t, mem)
	p := newPoller(c, panasonic, nil, time.Second)
	u, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := values(u)
	if got["temperature"] != 21.0 || got["luminance"] != -20.0 || got["mode"] != "FAN" {
		t.Fatalf("values %v", got)
	}
	if u.Layer != "site" || u.Collection != "hvac" || u.ID != "A" || u.Set[model.MeasurementsTimestampField] == nil {
		t.Fatalf("update %+v", u)
	}
	if st := p.Stats(); st.Requests != 1 || st.Cycles != 1 || !st.Up {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefusedCoalescedReadIsSplitAndRemembered(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21, 5, 2)
	// the device has registers 1 and 3..3 only: a read of 1..3 is refused
	mem.Restrict(1, modbus.HoldingRegisters, modbus.Range{Start: 1, Count: 1}, modbus.Range{Start: 3, Count: 1})
	c, _ := serve(t, mem)
	vars := []settings.Variable{panasonic[0], panasonic[2]} // temperature @1, mode @3: coalesced over the hole at 2
	p := newPoller(c, vars, nil, time.Second)
	if p.Stats().Requests != 1 {
		t.Fatalf("plan has %d requests, want 1 coalesced", p.Stats().Requests)
	}
	u, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatalf("first poll: %v", err)
	}
	if got := values(u); got["temperature"] != 21.0 || got["mode"] != "HEAT" {
		t.Fatalf("values after split %v", got)
	}
	st := p.Stats()
	if st.Splits != 1 || st.Requests != 2 {
		t.Fatalf("stats after split %+v", st)
	}
	errs := st.Errors
	if _, err := p.PollOnce(context.Background()); err != nil {
		t.Fatalf("second poll: %v", err)
	}
	if st := p.Stats(); st.Errors != errs || st.Splits != 1 {
		t.Fatalf("the split was not remembered: %+v", st)
	}
}

type collector struct {
	mu sync.Mutex
	us []model.Update
}

func (c *collector) sink(_ context.Context, us []model.Update) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.us = append(c.us, us...)
	return nil
}

func (c *collector) get() []model.Update {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]model.Update(nil), c.us...)
}

func TestDeadDeviceMarksReadingsBadOnceAndRecovers(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21, 1, 1)
	c, stop := serve(t, mem)
	var col collector
	p := newPoller(c, panasonic, col.sink, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return len(col.get()) >= 2 })
	stop() // the device dies
	time.Sleep(1500 * time.Millisecond)
	var bad int
	for _, u := range col.get() {
		m := u.Set["measurements.temperature"].(model.Measurement)
		if m.Quality == model.QualityBad {
			bad++
			if m.Value != 21.0 {
				t.Fatalf("bad-quality reading lost the last known value: %+v", m)
			}
		}
	}
	if bad != 1 {
		t.Fatalf("%d bad-quality updates during one outage, want exactly 1", bad)
	}
	if st := p.Stats(); st.Up || st.LastError == "" {
		t.Fatalf("stats during the outage: %+v", st)
	}
}

func TestDeadbandSuppressesSmallMoves(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 100)
	c, _ := serve(t, mem)
	v := panasonic[0]
	v.Deadband = f64(5)
	p := newPoller(c, []settings.Variable{v}, nil, time.Second)
	ctx := context.Background()
	for i, step := range []struct {
		reg    uint16
		report bool
	}{{100, true}, {103, false}, {104, false}, {106, true}, {102, false}, {100, true}} {
		mem.SetRegisters(1, modbus.HoldingRegisters, 1, step.reg)
		u, err := p.PollOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if (u != nil) != step.report {
			t.Fatalf("step %d (register %d): reported=%v, want %v", i, step.reg, u != nil, step.report)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
