package mqtt

// Attack tests of the hardening issue's item 16, "MQTT writes": what an
// MQTT client that may publish on a command topic can make the edge do to
// the field bus. Each test is one attack; the bridge must refuse it, audit
// it, and keep polling alive.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/bus"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

// attackUnit is the slaveId in testdata/attack.json.
const attackUnit = 9

// attackTopic is the command topic in testdata/attack.json.
const attackTopic = "PLANT/CMD"

// attackEnv is a broker, a Modbus device answering after a delay, the
// agent's bus lock shared by writes (high priority) and a poller (low), a
// running bridge for testdata/attack.json, and a peer that publishes commands.
type attackEnv struct {
	t        *testing.T
	s        *settings.Settings
	dev      *device
	lock     *bus.Lock
	b        *Bridge
	attacker *peer // publishes commands
	peer     *peer // watches the error reports
}

func newAttackEnv(t *testing.T, o Options, delay time.Duration, edit func(*settings.Settings)) *attackEnv {
	t.Helper()
	br := startBroker(t, brokerOptions{})
	s := loadSettings(t, "attack.json", br.addr)
	if edit != nil {
		edit(s)
	}
	dev := startSlowDevice(t, delay)
	dev.mem.Restrict(attackUnit, modbus.HoldingRegisters, modbus.Range{Start: 0, Count: 100})
	dev.mem.Restrict(attackUnit, modbus.Coils, modbus.Range{Start: 0, Count: 16})
	lock := &bus.Lock{}
	// The agent's writeBus: the write holds the bus at high priority.
	busFn := func(ctx context.Context, _ int, fn func(context.Context, Device) error) error {
		if err := lock.Acquire(ctx, true); err != nil {
			return err
		}
		defer lock.Release()
		return fn(ctx, dev.client)
	}
	if o.ClientID == "" {
		o.ClientID = "edge-" + t.Name()
	}
	o.Logger = testLogger(t)
	b, err := New(s, NewDeviceWriter(s, busFn), o)
	if err != nil {
		t.Fatal(err)
	}
	p := connectPeer(t, br.addr, "", "")
	p.subscribe(attackTopic + "/error")
	runBridge(t, b)
	eventually(t, "the bridge's subscriptions", func() bool { return b.Stats().Subscribed })
	return &attackEnv{t: t, s: s, dev: dev, lock: lock, b: b, attacker: connectPeer(t, br.addr, "", ""), peer: p}
}

// command publishes payload on the command topic and returns the n audit
// entries it caused.
func (e *attackEnv) command(payload string, n int) []AuditEntry {
	e.t.Helper()
	before := audited(e.b)
	e.attacker.publish(attackTopic, payload)
	eventually(e.t, "audit entries of "+payload, func() bool { return audited(e.b) >= before+n })
	if got := audited(e.b) - before; got != n {
		e.t.Fatalf("command %s: %d audit entries, want %d", payload, got, n)
	}
	log := e.b.AuditLog()
	return log[len(log)-n:]
}

func (e *attackEnv) holding() []uint16 {
	return e.dev.mem.Registers(attackUnit, modbus.HoldingRegisters, 0, 10)
}

func (e *attackEnv) coils() []bool {
	return e.dev.mem.Bits(attackUnit, modbus.Coils, 0, 4)
}

// pollLog runs a poller of the slave on the env's bus and records when each
// cycle ended.
type pollLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *pollLog) add(ts time.Time) {
	l.mu.Lock()
	l.times = append(l.times, ts)
	l.mu.Unlock()
}

func (l *pollLog) snapshot() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.times...)
}

// maxGap returns the longest time between from, the cycles that ended in
// [from, to], and to.
func (l *pollLog) maxGap(from, to time.Time) time.Duration {
	prev, worst := from, time.Duration(0)
	for _, ts := range l.snapshot() {
		if ts.Before(from) || ts.After(to) {
			continue
		}
		worst = max(worst, ts.Sub(prev))
		prev = ts
	}
	return max(worst, to.Sub(prev))
}

func (e *attackEnv) startPoller(period time.Duration) *pollLog {
	e.t.Helper()
	sl := &e.s.ModbusSlaves[0]
	l := &pollLog{}
	p := poller.New(e.dev.client, poller.Options{
		Name:     "attack",
		Slave:    sl,
		Vars:     e.s.ModbusMaps[sl.Map],
		Document: settings.Document{Layer: "plant", Collection: "a", ID: "a9"},
		Period:   period,
		Bus:      e.lock,
		Logger:   testLogger(e.t),
		Sink: func(context.Context, []model.Update) error {
			l.add(time.Now())
			return nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(e.t, "two poll cycles", func() bool { return len(l.snapshot()) >= 2 })
	return l
}

// TestAttackUnmarkedVariable: a variable is writable only when its map
// entry says "writable": true; a holding register or a coil that does not
// say so is refused, audited, and left as it was.
func TestAttackUnmarkedVariable(t *testing.T) {
	e := newAttackEnv(t, Options{}, 0, nil)
	parent := t
	for _, tc := range []struct {
		name, variable, payload, want string
	}{
		{"holding register without writable", "luminance", `{"luminance": 100}`, `luminance: variable is not writable`},
		{"coil without writable", "pump", `{"pump": true}`, `pump: variable is not writable`},
		{"writable false", "locked", `{"locked": 3}`, `locked: variable is not writable`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t, e.peer.t, e.attacker.t = t, t, t
			defer func() { e.t, e.peer.t, e.attacker.t = parent, parent, parent }()
			e.peer.drain()
			regs, bits := e.holding(), e.coils()
			en := e.command(tc.payload, 1)[0]
			if en.Result != ResultRefused || en.Variable != tc.variable || !strings.Contains(en.Error, tc.want) {
				t.Errorf("audit %+v: want %s refused with %q", en, tc.variable, tc.want)
			}
			if got := e.holding(); !reflect.DeepEqual(got, regs) {
				t.Errorf("holding registers %v after a refused write, want %v", got, regs)
			}
			if got := e.coils(); !reflect.DeepEqual(got, bits) {
				t.Errorf("coils %v after a refused write, want %v", got, bits)
			}
			var r ErrorReport
			if err := json.Unmarshal(e.peer.next(attackTopic+"/error").Payload, &r); err != nil {
				t.Fatal(err)
			}
			if r.Variable != tc.variable || !strings.Contains(r.Error, "not writable") {
				t.Errorf("error report %+v: want %s not writable", r, tc.variable)
			}
			as, err := ParseCommand([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if rs := e.b.Apply(context.Background(), "test", 0, as); !errors.Is(rs[0].Err, ErrNotWritable) {
				t.Errorf("Apply: got %v, want ErrNotWritable", rs[0].Err)
			}
		})
	}
	// A variable marked writable is written: the refusals above are about
	// the marking, not about writes in general.
	if en := e.command(`{"temperature": 21}`, 1)[0]; en.Result != ResultOK {
		t.Errorf("audit %+v: want the marked variable written", en)
	}
	if en := e.command(`{"enabled": true}`, 1)[0]; en.Result != ResultOK {
		t.Errorf("audit %+v: want the marked coil written", en)
	}
}

// settingsWith is a SETTINGS document with one map of the given variables
// and one slave subscribed to PLANT/CMD.
func settingsWith(vars ...string) string {
	return `{"modbusMaps": {"A": [` + strings.Join(vars, ",") + `]},
	  "modbusSlaves": [{"ip": "127.0.0.1", "slaveId": 9, "map": "A", "mqttSubscriptions": ["PLANT/CMD"]}],
	  "mqtt": {"host": "127.0.0.1"}}`
}

// TestAttackNumericWriteWithoutBounds: a writable numeric variable needs
// both min and max. SETTINGS that lack one do not load, and the error names
// the path, the variable and what is missing; settings built without Load
// are refused at write time the same way.
func TestAttackNumericWriteWithoutBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars []string
		want []string // substrings of the load error; none: loads
	}{
		{"max missing", []string{`{"name": "setpoint", "type": "holding", "address": 2, "datatype": "16int", "writable": true, "min": 10}`},
			[]string{`modbusMaps.A[0].max`, `"setpoint"`}},
		{"min missing", []string{`{"name": "t", "type": "holding", "address": 1, "datatype": "16uint", "writable": true, "max": 10}`,
			`{"name": "speed", "type": "holding", "address": 2, "datatype": "32float", "writable": true, "max": 10}`},
			[]string{`modbusMaps.A[1].min`, `"speed"`}},
		{"both missing", []string{`{"name": "level", "type": "holding", "address": 4, "datatype": "16uint", "writable": true}`},
			[]string{`modbusMaps.A[0].min`, `modbusMaps.A[0].max`, `"level"`}},
		{"translation without bounds", []string{`{"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "writable": true, "translation": [[1, "COLD"], [3, "FAN"]]}`},
			[]string{`modbusMaps.A[0].min`, `"mode"`}},
		{"writable input register", []string{`{"name": "in", "type": "input", "address": 3, "datatype": "16int", "writable": true, "min": 0, "max": 1}`},
			[]string{`modbusMaps.A[0].writable`, `"in"`}},
		{"bounded", []string{`{"name": "t", "type": "holding", "address": 1, "datatype": "16uint", "writable": true, "min": 0, "max": 10}`}, nil},
		{"coil needs no bounds", []string{`{"name": "on", "type": "coil", "address": 1, "datatype": "bool", "writable": true}`}, nil},
		{"bit needs no bounds", []string{`{"name": "flag", "type": "holding", "address": "7.2", "datatype": "bool", "writable": true}`}, nil},
		{"string needs no bounds", []string{`{"name": "tag", "type": "holding", "address": 10, "datatype": "string", "datasize": 4, "writable": true}`}, nil},
		{"unmarked needs no bounds", []string{`{"name": "t", "type": "holding", "address": 1, "datatype": "16uint"}`}, nil},
	} {
		t.Run("load/"+tc.name, func(t *testing.T) {
			_, err := settings.Load([]byte(settingsWith(tc.vars...)))
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("Load: got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load: got no error, want one containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q: want it to contain %q", err, w)
				}
			}
		})
	}

	t.Run("write", func(t *testing.T) {
		e := newAttackEnv(t, Options{}, 0, func(s *settings.Settings) {
			vars := s.ModbusMaps["A"]
			vars[1].Max = nil // setpoint: built in code, never validated by Load
			vars[3].Min = nil // fanSpeed
		})
		for _, tc := range []struct {
			payload, variable, missing string
		}{
			{`{"setpoint": 20}`, "setpoint", "max"},
			{`{"fanSpeed": 2}`, "fanSpeed", "min"},
		} {
			regs := e.holding()
			en := e.command(tc.payload, 1)[0]
			if en.Result != ResultRefused || !strings.Contains(en.Error, tc.variable) || !strings.Contains(en.Error, tc.missing) {
				t.Errorf("audit %+v: want %s refused with an error naming %s and the missing %s", en, tc.variable, tc.variable, tc.missing)
			}
			if got := e.holding(); !reflect.DeepEqual(got, regs) {
				t.Errorf("holding registers %v after a refused write, want %v", got, regs)
			}
		}
	})
}

// flood is one way of sending n valid writes as fast as possible.
type flood func(e *attackEnv, n int)

// floodMQTT publishes n commands on the command topic, one after another.
func floodMQTT(e *attackEnv, n int) {
	for i := range n {
		e.attacker.publish(attackTopic, floodPayload(i))
	}
}

// floodApply calls Bridge.Apply from 8 goroutines, as several command paths
// of the agent (MQTT, NATS, CLI) may at once.
func floodApply(e *attackEnv, n int) {
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				as, err := ParseCommand([]byte(floodPayload(i)))
				if err != nil {
					e.t.Error(err)
					return
				}
				e.b.Apply(context.Background(), "nats:attack", 0, as)
			}
		})
	}
	wg.Wait()
}

// floodPayload is the i-th write of a flood: valid values within bounds,
// turning over six writable variables.
func floodPayload(i int) string {
	switch i % 6 {
	case 0:
		return fmt.Sprintf(`{"temperature": %d}`, 5+i%30)
	case 1:
		return fmt.Sprintf(`{"setpoint": %d}`, 10+i%20)
	case 2:
		return fmt.Sprintf(`{"mode": %q}`, []string{"COLD", "HEAT", "FAN"}[i%3])
	case 3:
		return fmt.Sprintf(`{"fanSpeed": %d}`, i%6)
	case 4:
		return fmt.Sprintf(`{"valve": %d}`, i%101)
	default:
		return fmt.Sprintf(`{"dimmer": %d}`, i%101)
	}
}

// TestAttackWriteFlood: 1,000 valid writes in a burst, with every request
// to the device taking 2 ms (a serial line). The default limits (per
// variable 1/s burst 5, per bus 10/s burst 20) must let only a few through
// and refuse the rest, each refusal audited with its reason, and a poller
// on the same bus must keep completing its cycles.
func TestAttackWriteFlood(t *testing.T) {
	const (
		n         = 1000
		delay     = 2 * time.Millisecond
		period    = 50 * time.Millisecond
		maxGap    = time.Second // between poll cycles; a starved poller waits for the whole flood
		varRate   = 1.0
		varBurst  = 5
		busRate   = 10.0
		busBurst  = 20
		variables = 6
	)
	for _, tc := range []struct {
		name  string
		flood flood
	}{
		{"mqtt", floodMQTT},
		{"concurrent Apply", floodApply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAttackEnv(t, Options{AuditSize: 2 * n, CommandQueue: 2 * n}, delay, nil)
			// n error reports would fill the watcher's buffer and stall it.
			stop := make(chan struct{})
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				for {
					select {
					case <-e.peer.msgs:
					case <-stop:
						return
					}
				}
			}()
			defer func() { close(stop); <-drained }()
			polls := e.startPoller(period)
			before := e.b.Stats()
			start := time.Now()
			tc.flood(e, n)
			eventually(t, fmt.Sprintf("%d audit entries", n), func() bool { return audited(e.b)-audited0(before) >= n })
			end := time.Now()
			elapsed := end.Sub(start)
			st := e.b.Stats()
			writes, refused := st.Writes-before.Writes, st.Refused-before.Refused
			t.Logf("%d writes, %d refused, %d failed in %v; %d poll cycles", writes, refused, st.Failed-before.Failed, elapsed, len(polls.snapshot()))
			if writes+refused != n || st.Failed != before.Failed {
				t.Errorf("stats %+v: want %d writes and refusals together, no failure", st, n)
			}
			if limit := busBurst + busRate*elapsed.Seconds() + 1; float64(writes) > limit {
				t.Errorf("%d writes reached the device in %v, want at most %.0f (bus limit %v/s, burst %d)", writes, elapsed, limit, busRate, busBurst)
			}
			perVar := map[string]int{}
			rateLimited := 0
			for _, en := range e.b.AuditLog() {
				switch en.Result {
				case ResultOK:
					perVar[en.Variable]++
				case ResultRefused:
					if en.Error == "" || en.Variable == "" {
						t.Errorf("refused entry %+v: want the variable and the reason", en)
					}
					if strings.Contains(en.Error, "write rate limit") {
						rateLimited++
					}
				}
			}
			for v, got := range perVar {
				if limit := varBurst + varRate*elapsed.Seconds() + 1; float64(got) > limit {
					t.Errorf("%s written %d times in %v, want at most %.0f (variable limit %v/s, burst %d)", v, got, elapsed, limit, varRate, varBurst)
				}
			}
			if want := n - busBurst - int(busRate*elapsed.Seconds()) - 1; rateLimited < want {
				t.Errorf("%d writes refused by the rate limiter, want at least %d of %d", rateLimited, want, n)
			}
			if len(perVar) > variables {
				t.Errorf("written variables %v: more than the %d the flood names", perVar, variables)
			}
			// Polling went on during the flood, and goes on after it.
			if gap := polls.maxGap(start, end); gap > maxGap {
				t.Errorf("the poller on the same bus went %v without a cycle during the flood, want at most %v", gap, maxGap)
			}
			after := len(polls.snapshot())
			eventually(t, "poll cycles after the flood", func() bool { return len(polls.snapshot()) >= after+2 })
		})
	}
}

// audited0 is audited for a Stats snapshot.
func audited0(st Stats) int { return int(st.Writes + st.Refused + st.Failed) }

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestAttackRefusalsAudited: every refused write is in the audit trail —
// the ring and the audit file — with its reason, and counted in Stats.
func TestAttackRefusalsAudited(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	e := newAttackEnv(t, Options{AuditFile: file, Now: clock.Now}, 0, func(s *settings.Settings) {
		s.ModbusMaps["A"][1].Max = nil // setpoint
	})
	type want struct {
		variable, result, reason string
	}
	var wants []want
	send := func(payload string, ws ...want) {
		t.Helper()
		got := e.command(payload, len(ws))
		for i, w := range ws {
			if got[i].Variable != w.variable || got[i].Result != w.result || !strings.Contains(got[i].Error, w.reason) {
				t.Errorf("command %s: audit %+v, want %s %s %q", payload, got[i], w.variable, w.result, w.reason)
			}
		}
		wants = append(wants, ws...)
	}
	send(`{"luminance": 10}`, want{"luminance", ResultRefused, "not writable"})
	send(`{"locked": 1}`, want{"locked", ResultRefused, "not writable"})
	send(`{"nope": 1}`, want{"nope", ResultRefused, "unknown variable"})
	send(`{"temperature": 99}`, want{"temperature", ResultRefused, "above max 35"})
	send(`{"setpoint": 20}`, want{"setpoint", ResultRefused, "max"})
	send(`{"temperature": `, want{"", ResultRefused, "malformed command"})
	// The variable limit: a burst of 5, then 1 a second. The clock stands
	// still, so the 6th write is refused until it moves.
	for i := range DefaultVariableWriteBurst {
		send(fmt.Sprintf(`{"valve": %d}`, 10+i), want{"valve", ResultOK, ""})
	}
	send(`{"valve": 50}`, want{"valve", ResultRefused, "write rate limit"})
	send(`{"valve": 51, "dimmer": 3}`, want{"valve", ResultRefused, "write rate limit"}, want{"dimmer", ResultRefused, "not written"})
	clock.advance(time.Second)
	send(`{"valve": 52}`, want{"valve", ResultOK, ""})

	st := e.b.Stats()
	refused := 0
	for _, w := range wants {
		if w.result == ResultRefused {
			refused++
		}
	}
	if st.Refused != uint64(refused) || st.Writes != uint64(len(wants)-refused) {
		t.Errorf("stats %+v: want %d refused, %d writes", st, refused, len(wants)-refused)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []AuditEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var en AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &en); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, en)
	}
	if len(lines) != len(wants) {
		t.Fatalf("audit file has %d lines, want %d", len(lines), len(wants))
	}
	for i, w := range wants {
		en := lines[i]
		if en.Variable != w.variable || en.Result != w.result || !strings.Contains(en.Error, w.reason) || en.Source != "mqtt:"+attackTopic || !en.Time.Equal(clock.Now()) && !en.Time.Equal(clock.Now().Add(-time.Second)) {
			t.Errorf("audit line %d %+v: want %s %s %q from mqtt:%s", i, en, w.variable, w.result, w.reason, attackTopic)
		}
	}
}

// TestAttackBusLimit: slaves behind one ip and port share one bus and one
// bus limit, whichever of them a flood aims at; a slave on another bus
// keeps its own.
func TestAttackBusLimit(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	s := loadSettings(t, "attack.json", "127.0.0.1:1")
	one := s.ModbusSlaves[0]
	one.MQTTSubscriptions = nil
	two, other := one, one
	two.SlaveID = 10
	other.Port, other.SlaveID = 1502, 11
	s.ModbusSlaves = []settings.Slave{one, two, other}
	dev := startDevice(t)
	b, err := New(s, NewDeviceWriter(s, dev.bus()), Options{Now: clock.Now, Logger: testLogger(t),
		WriteLimits: WriteLimits{Variable: RateLimit{Rate: 100, Burst: 100}, Bus: RateLimit{Rate: 1, Burst: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	write := func(slave int, variable string, wantErr error) {
		t.Helper()
		r := b.Apply(context.Background(), "test", slave, []Assignment{{variable, json.Number("20")}})[0]
		if !errors.Is(r.Err, wantErr) && !(wantErr == nil && r.Err == nil) {
			t.Errorf("write slave %d %s: got %v, want %v", slave, variable, r.Err, wantErr)
		}
	}
	write(0, "temperature", nil)
	write(1, "temperature", nil)
	write(0, "valve", nil)
	write(1, "valve", ErrRateLimited) // fourth write on 127.0.0.1:502
	write(2, "valve", nil)            // 127.0.0.1:1502 is another bus
	clock.advance(time.Second)
	write(1, "valve", nil)
	write(0, "dimmer", ErrRateLimited)
	r := b.Apply(context.Background(), "test", 0, []Assignment{{"dimmer", json.Number("1")}})[0]
	if want := "on bus 127.0.0.1:502"; r.Err == nil || !strings.Contains(r.Err.Error(), want) {
		t.Errorf("rate-limited write: got %v, want an error naming the bus (%q)", r.Err, want)
	}
	if st := b.Stats(); st.RateLimited != 3 || st.Refused != 3 || st.Writes != 5 {
		t.Errorf("stats %+v: want 5 writes, 3 refused, all 3 rate-limited", st)
	}
}

func TestWriteLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    WriteLimits
		want string // "" for valid
	}{
		{"defaults", WriteLimits{}, ""},
		{"set", WriteLimits{Variable: RateLimit{Rate: 0.2, Burst: 1}, Bus: RateLimit{Rate: 50, Burst: 100}}, ""},
		{"negative rate", WriteLimits{Variable: RateLimit{Rate: -1}}, "writeLimits.variable.rate"},
		{"negative burst", WriteLimits{Bus: RateLimit{Burst: -2}}, "writeLimits.bus.burst"},
	} {
		o := Options{WriteLimits: tc.l}
		err := o.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
	var o Options
	o.defaults()
	want := WriteLimits{Variable: RateLimit{Rate: DefaultVariableWriteRate, Burst: DefaultVariableWriteBurst},
		Bus: RateLimit{Rate: DefaultBusWriteRate, Burst: DefaultBusWriteBurst}}
	if o.WriteLimits != want {
		t.Errorf("default write limits %+v, want %+v", o.WriteLimits, want)
	}
}
