package poller_test

// Benchmarks of the device library (modbus-maps/) and the seed's PANASONIC
// example: requests and bytes per poll cycle with the planner against one
// request per variable, serial line time against the theoretical minimum,
// poll cycles per second over loopback TCP, decode cost per value, and the
// 500-device scale run compared with Neuron's published figure.
//
// Each benchmark logs its table once (benchmark logs are always printed,
// at most 10 lines each). BenchmarkScale500 runs only when
// GRIDEDGE_BENCH_SCALE is set to a duration (see its doc comment).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

var discard = slog.New(slog.DiscardHandler)

// ADU sizes of read requests and responses (Modbus Application Protocol
// V1.1b3 and Modbus over Serial Line V1.02).
const (
	// tcpRequestADU is MBAP (7) + function, address, quantity (5).
	tcpRequestADU = 12
	// tcpResponseOverhead is MBAP (7) + function and byte count (2).
	tcpResponseOverhead = 9
	// rtuRequestADU is address (1) + function, address, quantity (5) + CRC (2).
	rtuRequestADU = 8
	// rtuResponseOverhead is address, function, byte count (3) + CRC (2).
	rtuResponseOverhead = 5
	// rtuBitsPerChar is start + 8 data + parity (or a second stop) + stop.
	rtuBitsPerChar = 11
)

// seedPanasonic is the map of seed 000, section 3.3.5.1, with the register
// image of ../codec/testdata/panasonic.json's first case.
const seedPanasonic = `{"modbusMaps": {"PANASONIC": [
  {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint", "factor": 1},
  {"name": "luminance", "type": "holding", "address": 2, "datatype": "16int", "factor": 10},
  {"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [2, "HEAT"], [3, "FAN"]]}
]}}`

// benchDevice is a map with a register image and the values it decodes to.
type benchDevice struct {
	deviceMap
	img  image
	want map[string]any
}

// benchDevices returns every map of the library with its golden image,
// and the seed's PANASONIC example.
func benchDevices(tb testing.TB) []benchDevice {
	tb.Helper()
	var out []benchDevice
	for _, m := range loadDeviceMaps(tb) {
		g := loadGolden(tb, m.File)
		out = append(out, benchDevice{deviceMap: m, img: g.image(), want: g.Want})
	}
	s, err := settings.Load([]byte(seedPanasonic))
	if err != nil {
		tb.Fatal(err)
	}
	out = append(out, benchDevice{
		deviceMap: deviceMap{File: "seed 000 §3.3.5.1", Name: "PANASONIC", Vars: s.ModbusMaps["PANASONIC"]},
		img:       image{settings.TypeHolding: {1: 21, 2: 65534, 3: 3}},
		want:      map[string]any{"temperature": 21.0, "luminance": -20.0, "mode": "FAN"},
	})
	return out
}

// responseData is the payload of a read response: 2 bytes per register,
// or the coils packed 8 to a byte.
func responseData(table string, count int) int {
	if table == settings.TypeCoil || table == settings.TypeDiscrete {
		return (count + 7) / 8
	}
	return 2 * count
}

// exchange is one read: its table and how many registers (or bits) it asks for.
type exchange struct {
	table string
	count int
}

// cycleCost is what one poll cycle puts on the wire.
type cycleCost struct {
	requests int
	tcpBytes int // request + response ADUs over Modbus TCP
	rtuBytes int // request + response frames over RTU
	line     map[int]time.Duration
}

var bauds = []int{9600, 19200, 115200}

func costOf(xs []exchange) cycleCost {
	c := cycleCost{requests: len(xs), line: map[int]time.Duration{}}
	for _, x := range xs {
		data := responseData(x.table, x.count)
		c.tcpBytes += tcpRequestADU + tcpResponseOverhead + data
		c.rtuBytes += rtuRequestADU + rtuResponseOverhead + data
		for _, baud := range bauds {
			c.line[baud] += modbus.LineTime(baud, rtuBitsPerChar, rtuRequestADU, rtuResponseOverhead+data)
		}
	}
	return c
}

// mapCost compares the planner with one request per variable for one map.
type mapCost struct {
	name   string
	values int // variables reported (ignore excluded)
	useful int // distinct registers (or bits) those variables occupy
	plan   cycleCost
	naive  cycleCost
	// ideal is one request whose response carries exactly the useful
	// registers (ignoring the 125-register limit and address gaps).
	ideal cycleCost
	// floor is the useful registers' bytes alone at the line rate: no
	// request, no addressing, no CRC, no inter-frame gap.
	floor map[int]time.Duration
}

func costs(d benchDevice) mapCost {
	mc := mapCost{name: d.Name, floor: map[int]time.Duration{}}
	used := map[exchange]bool{} // table and register
	var naive []exchange
	for i := range d.Vars {
		v := &d.Vars[i]
		if v.Datatype == settings.DatatypeIgnore {
			continue
		}
		mc.values++
		n := codec.SpanOf(v)
		naive = append(naive, exchange{v.Type, n})
		for r := range n {
			used[exchange{v.Type, int(v.Address.Register) + r}] = true
		}
	}
	mc.useful = len(used)
	var planned []exchange
	for _, r := range poller.Plan(d.Vars, d.Plan) {
		planned = append(planned, exchange{r.Table, int(r.Count)})
	}
	mc.plan, mc.naive = costOf(planned), costOf(naive)
	// The maps hold registers only (the PANASONIC example too).
	mc.ideal = costOf([]exchange{{settings.TypeHolding, mc.useful}})
	for _, baud := range bauds {
		mc.floor[baud] = time.Duration(int64(2*mc.useful*rtuBitsPerChar) * int64(time.Second) / int64(baud))
	}
	return mc
}

// logTable runs op in a sub-benchmark named "table" and logs, once, the
// table fill writes (tab-separated cells). Only leaf benchmarks' logs are
// printed without -v, hence the sub-benchmark.
func logTable(b *testing.B, op func(), fill func(w io.Writer)) {
	logged := false
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			op()
		}
		if logged {
			return
		}
		logged = true
		var sb strings.Builder
		w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
		fill(w)
		_ = w.Flush()
		b.Log("\n" + strings.TrimRight(sb.String(), "\n"))
	})
}

// BenchmarkMapWire prints, per map, the requests and bytes of one poll
// cycle with the planner and with one request per variable, over Modbus TCP
// (12-byte request, 9+2n response) and RTU (8-byte request, 5+2n response),
// and the bytes on the wire per useful register. Sub-benchmarks time Plan.
func BenchmarkMapWire(b *testing.B) {
	devs := benchDevices(b)
	logTable(b, func() { // the accounting of every map, per op
		for _, d := range devs {
			costs(d)
		}
	}, func(w io.Writer) {
		fmt.Fprintln(w, "map\tvalues\tuseful regs\treq plan\treq naive\tTCP B plan\tTCP B naive\tTCP B/reg plan\tTCP B/reg naive\tRTU B plan\tRTU B naive\tRTU B/reg plan\tRTU B/reg naive\t")
		for _, d := range devs {
			c := costs(d)
			u := float64(c.useful)
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%d\t%d\t%.2f\t%.2f\t\n", c.name, c.values, c.useful,
				c.plan.requests, c.naive.requests, c.plan.tcpBytes, c.naive.tcpBytes,
				float64(c.plan.tcpBytes)/u, float64(c.naive.tcpBytes)/u,
				c.plan.rtuBytes, c.naive.rtuBytes, float64(c.plan.rtuBytes)/u, float64(c.naive.rtuBytes)/u)
		}
	})
	for _, d := range devs {
		b.Run(d.Name, func(b *testing.B) {
			c := costs(d)
			b.ReportAllocs()
			for b.Loop() {
				poller.Plan(d.Vars, d.Plan)
			}
			b.ReportMetric(float64(c.plan.requests), "req/cycle")
			b.ReportMetric(float64(c.naive.requests), "naive-req/cycle")
			b.ReportMetric(float64(c.plan.tcpBytes)/float64(c.useful), "tcp-B/reg")
			b.ReportMetric(float64(c.naive.tcpBytes)/float64(c.useful), "naive-tcp-B/reg")
		})
	}
}

// BenchmarkMapLineTime prints the time one poll cycle occupies an RTU line
// (11-bit characters, t3.5 after every frame, slave turnaround excluded)
// at 9600, 19200 and 115200 baud: with the planner, with one request per
// variable, with one ideal request carrying exactly the useful registers,
// and the floor (the useful registers' bytes alone at the line rate).
func BenchmarkMapLineTime(b *testing.B) {
	devs := benchDevices(b)
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	logTable(b, func() {
		for _, d := range devs {
			costs(d)
		}
	}, func(w io.Writer) {
		fmt.Fprint(w, "map\tuseful regs\t")
		for _, baud := range bauds {
			fmt.Fprintf(w, "%d: plan ms\tnaive ms\tideal ms\tfloor ms\tplan/floor\t", baud)
		}
		fmt.Fprintln(w)
		for _, d := range devs {
			c := costs(d)
			fmt.Fprintf(w, "%s\t%d\t", c.name, c.useful)
			for _, baud := range bauds {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2f\t", ms(c.plan.line[baud]), ms(c.naive.line[baud]),
					ms(c.ideal.line[baud]), ms(c.floor[baud]), float64(c.plan.line[baud])/float64(c.floor[baud]))
			}
			fmt.Fprintln(w)
		}
	})
	for _, d := range devs {
		b.Run(d.Name, func(b *testing.B) {
			c := costs(d)
			for b.Loop() {
				var total time.Duration
				for _, r := range poller.Plan(d.Vars, d.Plan) {
					total += modbus.LineTime(9600, rtuBitsPerChar, rtuRequestADU, rtuResponseOverhead+responseData(r.Table, int(r.Count)))
				}
				_ = total
			}
			b.ReportMetric(float64(c.plan.line[9600])/1e6, "ms@9600")
			b.ReportMetric(float64(c.naive.line[9600])/1e6, "naive-ms@9600")
			b.ReportMetric(float64(c.floor[9600])/1e6, "floor-ms@9600")
		})
	}
}

// serveImage serves img as unit 1 of a modbus.Memory over loopback TCP and
// returns the address; the server stops with the benchmark.
func serveImage(tb testing.TB, img image) string {
	tb.Helper()
	mem := modbus.NewMemory()
	for t, regs := range img {
		tab := modbus.HoldingRegisters
		if t == settings.TypeInput {
			tab = modbus.InputRegisters
		}
		for a, v := range regs {
			mem.SetRegisters(1, tab, a, v)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = (&modbus.Server{Handler: mem, Logger: discard}).Serve(ctx, l) }()
	tb.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

// dialBench returns a client for the device at addr.
func dialBench(tb testing.TB, addr string) *modbus.Client {
	tb.Helper()
	c, err := modbus.NewClient("tcp://"+addr, modbus.ClientOptions{Timeout: time.Second, Logger: discard})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// benchOptions returns the options the agent would give the poller of a
// device of map d; sink nil discards the updates.
func benchOptions(d *deviceMap, name string, sink poller.Sink) poller.Options {
	if sink == nil {
		sink = func(context.Context, []model.Update) error { return nil }
	}
	return poller.Options{Name: name,
		Slave:    &settings.Slave{IP: "127.0.0.1", SlaveID: 1, Map: d.Name, MaxRegisters: d.Plan.MaxRegisters},
		Vars:     d.Vars,
		Document: settings.Document{Layer: "bench", Collection: "meters", ID: name},
		Period:   time.Second, Sink: sink, Logger: discard}
}

// measurements returns the values of an update by variable name.
func measurements(u *model.Update) map[string]any {
	out := map[string]any{}
	if u == nil {
		return out
	}
	for k, v := range u.Set {
		if m, ok := v.(model.Measurement); ok {
			out[strings.TrimPrefix(k, model.MeasurementsPrefix)] = m.Value
		}
	}
	return out
}

// BenchmarkMapPollLoopback polls each map's golden image, served by
// modbus.Server over a modbus.Memory on loopback TCP, with poller.New and a
// modbus client, and reports poll cycles per second (one PollOnce per op).
// The first cycle's values are checked against the golden values.
func BenchmarkMapPollLoopback(b *testing.B) {
	for _, d := range benchDevices(b) {
		b.Run(d.Name, func(b *testing.B) {
			c := dialBench(b, serveImage(b, d.img))
			defer c.Close()
			p := poller.New(c, benchOptions(&d.deviceMap, d.Name, nil))
			ctx := context.Background()
			u, err := p.PollOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			got := measurements(u)
			for name, want := range d.want {
				if !goldenEqual(got[name], want) {
					b.Fatalf("%s = %#v over TCP, want %#v", name, got[name], want)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.PollOnce(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
			b.ReportMetric(float64(p.Stats().Requests), "req/cycle")
		})
	}
}

// BenchmarkMapDecode decodes every value of each map from its golden
// image (registers already extracted); one op decodes the whole map.
// allocs/value and ns/value divide by the values decoded.
func BenchmarkMapDecode(b *testing.B) {
	for _, d := range benchDevices(b) {
		b.Run(d.Name, func(b *testing.B) {
			type one struct {
				v   *settings.Variable
				raw []uint16
			}
			var vals []one
			for _, r := range poller.Plan(d.Vars, d.Plan) {
				regs := d.img.read(r)
				for _, i := range r.Vars {
					vals = append(vals, one{&d.Vars[i], poller.Extract(r, &d.Vars[i], regs)})
				}
			}
			var before, after runtime.MemStats
			b.ReportAllocs()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				for _, x := range vals {
					if _, err := codec.Decode(x.v, "", x.raw); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			n := float64(b.N) * float64(len(vals))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/value")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/value")
			b.ReportMetric(float64(len(vals)), "values/op")
		})
	}
}

// Scale run settings (environment).
const (
	// scaleEnv enables BenchmarkScale500 and sets its duration, e.g. "25s".
	scaleEnv = "GRIDEDGE_BENCH_SCALE"
	// scaleDevicesEnv overrides the number of devices (default 500).
	scaleDevicesEnv = "GRIDEDGE_BENCH_SCALE_DEVICES"
	// scalePeriodEnv overrides the poll period (default 1s).
	scalePeriodEnv = "GRIDEDGE_BENCH_SCALE_PERIOD"
	// scaleSimEnv makes TestScaleSimulators serve that many devices: it is
	// set for the child process BenchmarkScale500 starts, never by hand.
	scaleSimEnv = "GRIDEDGE_BENCH_SCALE_SIMULATORS"
	// scaleMap is the 30-tag map every device of the scale run has.
	scaleMap = "SDM630"
)

// scaleVars returns the 30-tag map of the scale run: the first 30 values
// of the SDM630 map (phase and total quantities, frequency, energies), which
// the planner reads in one 80-register request. It also returns the
// device's golden image.
func scaleVars(tb testing.TB) (deviceMap, image) {
	for _, d := range benchDevices(tb) {
		if d.Name == scaleMap {
			d.Vars = d.Vars[:30]
			return d.deviceMap, d.img
		}
	}
	tb.Fatalf("no %s map", scaleMap)
	return deviceMap{}, nil
}

// TestScaleSimulators is the simulator side of BenchmarkScale500, run in a
// child process so that the benchmark's CPU figures are the pollers' alone.
// It skips unless GRIDEDGE_BENCH_SCALE_SIMULATORS is set. It serves the
// scale map's golden image on that many loopback listeners (one
// modbus.Server each, sharing one read-only modbus.Memory), writes
// "ADDRS addr,addr,…" on stdout and serves until stdin is closed.
func TestScaleSimulators(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(scaleSimEnv))
	if n <= 0 {
		t.Skip("the simulator side of BenchmarkScale500; runs only as its child process")
	}
	_, img := scaleVars(t)
	mem := modbus.NewMemory()
	for a, v := range img[settings.TypeInput] {
		mem.SetRegisters(1, modbus.InputRegisters, a, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	addrs := make([]string, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		wg.Go(func() { _ = (&modbus.Server{Handler: mem, Logger: discard}).Serve(ctx, l) })
	}
	// The protocol with the parent process, not a log line.
	if _, err := fmt.Fprintf(os.Stdout, "ADDRS %s\n", strings.Join(addrs, ",")); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	<-ctx.Done()
	cancel()
	wg.Wait()
}

// timedDevice records the duration of every read of one poller, and the
// reads that failed before the run ended (its Run goroutine is the only
// caller, so no lock is needed).
type timedDevice struct {
	poller.Device
	lat   []time.Duration
	fails uint64
	err   error // the first failure
}

func (d *timedDevice) done(ctx context.Context, t0 time.Time, err error) {
	d.lat = append(d.lat, time.Since(t0))
	// A read cut by the end of the run fails too, sometimes just before
	// ctx reports it (the connection's deadline is the run's deadline).
	if dl, ok := ctx.Deadline(); err != nil && (!ok || time.Until(dl) > 50*time.Millisecond) {
		d.fails++
		if d.err == nil {
			d.err = err
		}
	}
}

func (d *timedDevice) ReadInputRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error) {
	t0 := time.Now()
	regs, err := d.Device.ReadInputRegisters(ctx, unit, addr, qty)
	d.done(ctx, t0, err)
	return regs, err
}

func (d *timedDevice) ReadHoldingRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error) {
	t0 := time.Now()
	regs, err := d.Device.ReadHoldingRegisters(ctx, unit, addr, qty)
	d.done(ctx, t0, err)
	return regs, err
}

// cpuTime returns user+system CPU of this process.
func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss
}

// procCPU returns utime+stime of another process from /proc/<pid>/stat
// (Linux, clock ticks of 1/100 s, the USER_HZ of every Linux port).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkScale500 is Neuron's "data collection test 1" (500 Modbus TCP
// devices × 30 tags polled every second; Neuron publishes about 124 % CPU
// of a 4-core x86 server) run against simulators on loopback: 500
// modbus.Server listeners in a child process (TestScaleSimulators), each
// serving the 30-tag map, polled by 500 pollers built as the agent builds
// them (poller.New over a modbus.Client each, staggered over the period,
// poller.Run). The sink counts updates; storage and MQTT are not included.
//
// It reports this process's CPU (user+sys over wall time, % of one core),
// its max RSS, the simulators' CPU, cycles completed against the cycles
// scheduled, cycles skipped (overruns), request latencies and the load
// average. It runs once, for GRIDEDGE_BENCH_SCALE (e.g. 25s), and is
// skipped when that is unset, so `-bench .` stays short:
//
//	GRIDEDGE_BENCH_SCALE=25s go test -run '^$' -bench '^BenchmarkScale500$' -benchtime 1x ./poller/
func BenchmarkScale500(b *testing.B) {
	dur, err := time.ParseDuration(os.Getenv(scaleEnv))
	if err != nil || dur <= 0 {
		b.Skipf("set %s to a duration (e.g. 25s) to run the 500-device scale benchmark", scaleEnv)
	}
	devices := envInt(scaleDevicesEnv, 500)
	period := time.Second
	if p, err := time.ParseDuration(os.Getenv(scalePeriodEnv)); err == nil && p > 0 {
		period = p
	}
	m, _ := scaleVars(b)

	// Simulators in a child process: this binary running TestScaleSimulators.
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleSimulators$", "-test.count=1")
	cmd.Env = append(os.Environ(), scaleSimEnv+"="+strconv.Itoa(devices))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	var addrs []string
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "ADDRS "); ok {
			addrs = strings.Split(line, ",")
			break
		}
	}
	if len(addrs) != devices {
		b.Fatalf("simulators: got %d addresses, want %d (%v)", len(addrs), devices, sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	for i := 0; i < b.N; i++ { // once: the first run outlasts -benchtime
		res := runScale(b, &m, addrs, period, dur, cmd.Process.Pid)
		b.ReportMetric(res.cpuPct, "cpu%")
		b.ReportMetric(res.simCPUPct, "sim-cpu%")
		b.ReportMetric(float64(res.maxRSSKB)/1024, "maxrss-MB")
		b.ReportMetric(float64(res.cycles), "cycles")
		b.ReportMetric(float64(res.expected), "cycles-scheduled")
		b.ReportMetric(float64(res.overruns), "skipped")
		b.ReportMetric(res.p99.Seconds()*1e3, "p99-ms")
		if i == 0 {
			b.Logf("%d devices × %d tags every %v for %v (%d req/cycle of %d registers each)", devices, len(m.Vars), period, dur, res.requests, res.regsPerReq)
			b.Logf("pollers: CPU %.1f%% of one core (%.2f%% of this machine's %d cores), max RSS %.1f MB, goroutines %d",
				res.cpuPct, res.cpuPct/float64(runtime.NumCPU()), runtime.NumCPU(), float64(res.maxRSSKB)/1024, res.goroutines)
			b.Logf("simulators (child process): CPU %.1f%% of one core", res.simCPUPct)
			b.Logf("cycles: %d completed of %d scheduled (%.2f%%), %d skipped (overrun), %d requests failed (excluding those cut by the end of the run); %d values reported",
				res.cycles, res.expected, 100*float64(res.cycles)/float64(res.expected), res.overruns, res.errors, res.values)
			b.Logf("request latency: p50 %v, p99 %v, max %v; first failure: %v", res.p50, res.p99, res.max, res.firstErr)
			b.Logf("load average before %s, after %s", res.loadBefore, res.loadAfter)
		}
	}
}

type scaleResult struct {
	cpuPct, simCPUPct                float64
	maxRSSKB                         int64
	cycles, expected, overruns       uint64
	errors, values                   uint64
	requests, regsPerReq, goroutines int
	p50, p99, max                    time.Duration
	loadBefore, loadAfter            string
	firstErr                         error
}

func runScale(b *testing.B, m *deviceMap, addrs []string, period, dur time.Duration, simPID int) scaleResult {
	var res scaleResult
	var values, cycles atomic.Uint64
	var deadline atomic.Int64 // UnixNano; cycles ending later are not counted
	deadline.Store(math.MaxInt64)
	sink := func(_ context.Context, us []model.Update) error {
		if time.Now().UnixNano() > deadline.Load() {
			return nil
		}
		cycles.Add(1) // one update per cycle: no deadband in the map
		for _, u := range us {
			values.Add(uint64(len(u.Set) - 1)) // minus the timestamp field
		}
		return nil
	}
	type dev struct {
		p *poller.Poller
		c *modbus.Client
		t *timedDevice
	}
	devs := make([]dev, len(addrs))
	for i, a := range addrs {
		c := dialBench(b, a)
		o := benchOptions(m, "dev"+strconv.Itoa(i), sink)
		o.Period = period
		o.Offset = period * time.Duration(i) / time.Duration(len(addrs)) // staggered, as the agent does
		t := &timedDevice{Device: c}
		devs[i] = dev{poller.New(t, o), c, t}
		// cycles scheduled in [offset, dur): the first at offset, then every period
		if o.Offset < dur {
			res.expected += uint64((dur-o.Offset-1)/period) + 1
		}
	}
	res.requests = devs[0].p.Stats().Requests
	if plan := poller.Plan(m.Vars, m.Plan); len(plan) > 0 {
		res.regsPerReq = int(plan[0].Count)
	}
	res.loadBefore = loadAvg()
	runtime.GC()
	cpu0, _ := cpuTime()
	sim0 := procCPU(simPID)
	start := time.Now()
	deadline.Store(start.Add(dur).UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	var wg sync.WaitGroup
	for _, d := range devs {
		wg.Go(func() { _ = d.p.Run(ctx) })
	}
	time.Sleep(dur / 2)
	res.goroutines = runtime.NumGoroutine()
	wg.Wait()
	wall := time.Since(start)
	cancel()
	cpu1, maxRSS := cpuTime()
	sim1 := procCPU(simPID)
	res.loadAfter = loadAvg()
	res.cpuPct = 100 * float64(cpu1-cpu0) / float64(wall)
	res.simCPUPct = 100 * float64(sim1-sim0) / float64(wall)
	res.maxRSSKB = maxRSS
	var lat []time.Duration
	for _, d := range devs {
		st := d.p.Stats()
		res.overruns += st.Overruns
		res.errors += d.t.fails
		if d.t.err != nil && res.firstErr == nil {
			res.firstErr = d.t.err
		}
		lat = append(lat, d.t.lat...)
		if err := d.c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			b.Log(err)
		}
	}
	res.values, res.cycles = values.Load(), cycles.Load()
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		res.p50, res.p99, res.max = lat[n/2], lat[int(math.Min(float64(n-1), float64(n)*0.99))], lat[n-1]
	}
	return res
}
