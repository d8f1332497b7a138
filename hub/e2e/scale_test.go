package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment of the end-to-end scale benchmarks.
const (
	// scaleE2EEnv enables BenchmarkScaleAgent and BenchmarkIdleAgent and
	// sets their measuring window, e.g. "60s".
	scaleE2EEnv = "GRIDEDGE_BENCH_SCALE_E2E"
	// scaleE2EDevicesEnv overrides the number of devices of BenchmarkScaleAgent (default 500).
	scaleE2EDevicesEnv = "GRIDEDGE_BENCH_SCALE_E2E_DEVICES"
	// scaleE2EWarmupEnv overrides the warm-up before the window (default 20s).
	scaleE2EWarmupEnv = "GRIDEDGE_BENCH_SCALE_E2E_WARMUP"
	// agentProfileEnv names a file: BenchmarkScaleAgent then runs an agent
	// built with net/http/pprof and writes its CPU profile of the window there.
	agentProfileEnv = "GRIDEDGE_BENCH_AGENT_PROFILE"
	// hubProfileEnv names a file: BenchmarkScaleAgent then runs a hub built
	// with net/http/pprof and writes its heap profile at the window's end
	// there (go tool pprof -sample_index=inuse_space).
	hubProfileEnv = "GRIDEDGE_BENCH_HUB_PROFILE"
	// hubGOGCEnv, when set, is passed to the hub alone as GOGC, to measure
	// the hub's resource use at another garbage-collection target.
	hubGOGCEnv = "GRIDEDGE_BENCH_HUB_GOGC"
	// pprofListenEnv is read by the profiling build of the agent only.
	pprofListenEnv = "GRIDEDGE_PPROF_LISTEN"
)

// scaleTags is the 30-tag map of every benchmark device, a three-phase
// meter: 32-bit floats, 32-bit scaled ints and energy counters, and 16-bit
// scaled ints, 50 input registers that the poller reads in one request.
// Every value moves every second (the simulator animates them with
// --interval 1s) and no tag has a deadband, so every poll is a full update.
// pollCount is served by the simulator as the number of reads of it, which
// lets the benchmark prove that every read reached the hub; keeping the map
// in one request makes each cycle all or nothing (a cycle cut in two by the
// simulator's stop would store half a reading without a read of pollCount).
func scaleTags() []string {
	var tags []string
	add := func(name string, addr int, datatype, factor string) {
		tag := fmt.Sprintf(`{"name":%q,"type":"input","address":%d,"datatype":%q`, name, addr, datatype)
		if factor != "" {
			tag += `,"factor":` + factor
		}
		tags = append(tags, tag+"}")
	}
	add("pollCount", 0, "32uint", "")
	for i, ph := range []string{"L1", "L2", "L3"} {
		add("voltage"+ph, 2+2*i, "32float", "")
		add("current"+ph, 8+2*i, "32float", "")
		add("activePower"+ph, 14+2*i, "32int", "0.1")
		add("reactivePower"+ph, 20+2*i, "32int", "0.1")
	}
	add("apparentPower", 26, "32float", "")
	add("totalActivePower", 28, "32float", "")
	add("demand", 30, "32float", "")
	add("importEnergy", 32, "32uint", "0.01")
	add("exportEnergy", 34, "32uint", "0.01")
	add("runHours", 36, "32uint", "0.1")
	add("reactiveEnergy", 38, "32uint", "0.01")
	for i, ph := range []string{"12", "23", "31"} {
		add("lineVoltage"+ph, 40+i, "16uint", "0.1")
		add("thd"+ph, 43+i, "16uint", "0.1")
	}
	add("frequency", 46, "16uint", "0.01")
	add("temperature", 47, "16int", "0.1")
	add("powerFactor", 48, "16int", "0.01")
	add("neutralCurrent", 49, "16uint", "0.01")
	return tags
}

// scaleOptions describe one end-to-end scale run.
type scaleOptions struct {
	name    string
	devices int
	window  time.Duration
	warmup  time.Duration
	profile string // file for the agent's CPU profile of the window ("" for none)
	// hubProfile is the file for the hub's heap profile at the window's
	// end ("" for none).
	hubProfile string
}

// BenchmarkScaleAgent runs the real binaries, built as `make build` builds
// them: `gridedge sim --each-endpoint` serving 500 Modbus TCP devices × 30
// tags on 500 loopback ports (one connection per device), an agent polling
// them every second with its buffer and forwarder, and a hub on bolt
// receiving over the leaf link. After a warm-up it measures, over the
// window, the CPU (% of one core) and memory of the three processes, the
// poll→hub-store latency of a tenth of the devices, missed cycles, and at
// the end it stops the simulator, lets the agent drain and checks that every
// update reached the hub (high-water mark = last committed sequence, no gap,
// nothing dropped, the sum of the devices' poll counters = the good updates).
//
//	GRIDEDGE_BENCH_SCALE_E2E=60s go test -run '^$' -bench BenchmarkScaleAgent -benchtime 1x ./e2e/
//
// GRIDEDGE_BENCH_SCALE_E2E_DEVICES and _WARMUP change the size and the
// warm-up; GRIDEDGE_BENCH_AGENT_PROFILE=FILE writes a CPU profile of the
// agent over the window (the agent is then built with net/http/pprof);
// GRIDEDGE_BENCH_HUB_PROFILE=FILE writes the hub's heap profile at the
// window's end (the hub is then built with net/http/pprof), and
// GRIDEDGE_BENCH_HUB_GOGC=N runs the hub alone with GOGC=N.
func BenchmarkScaleAgent(b *testing.B) {
	window := scaleWindow(b)
	o := scaleOptions{name: "scale", devices: 500, window: window, warmup: 20 * time.Second, profile: os.Getenv(agentProfileEnv),
		hubProfile: os.Getenv(hubProfileEnv)}
	if n, err := strconv.Atoi(os.Getenv(scaleE2EDevicesEnv)); err == nil && n > 0 {
		o.devices = n
	}
	if d, err := time.ParseDuration(os.Getenv(scaleE2EWarmupEnv)); err == nil && d >= 0 {
		o.warmup = d
	}
	for range b.N {
		runScaleE2E(b, o)
	}
}

// BenchmarkIdleAgent is BenchmarkScaleAgent with 2 devices: the agent's
// baseline CPU and memory.
//
//	GRIDEDGE_BENCH_SCALE_E2E=60s go test -run '^$' -bench BenchmarkIdleAgent -benchtime 1x ./e2e/
func BenchmarkIdleAgent(b *testing.B) {
	window := scaleWindow(b)
	o := scaleOptions{name: "idle", devices: 2, window: window, warmup: 10 * time.Second}
	if d, err := time.ParseDuration(os.Getenv(scaleE2EWarmupEnv)); err == nil && d >= 0 {
		o.warmup = d
	}
	for range b.N {
		runScaleE2E(b, o)
	}
}

// scaleWindow returns the measuring window, or skips the benchmark.
func scaleWindow(b *testing.B) time.Duration {
	v := os.Getenv(scaleE2EEnv)
	if v == "" {
		b.Skipf("set %s=60s to run (about 2 minutes with 500 devices; builds the binaries without -race)", scaleE2EEnv)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 5*time.Second {
		b.Fatalf("%s=%q: want a duration of at least 5s", scaleE2EEnv, v)
	}
	return d
}

var releaseBins struct {
	once sync.Once
	dir  string
	err  error
}

// releaseBinaries builds the three binaries as `make build` does (no -race,
// CGO_ENABLED=0, -trimpath, stripped), whatever flags the test binary has:
// CPU figures of race-instrumented binaries would mean nothing.
func releaseBinaries(b *testing.B) string {
	b.Helper()
	releaseBins.once.Do(func() {
		releaseBins.dir, releaseBins.err = os.MkdirTemp("", "gridedge-bench-bin-")
		if releaseBins.err == nil {
			releaseBins.err = buildBinaries(releaseBins.dir, []string{"CGO_ENABLED=0"}, []string{"-trimpath", "-ldflags=-s -w"})
		}
	})
	if releaseBins.err != nil {
		b.Fatal(releaseBins.err)
	}
	return releaseBins.dir
}

// pprofOverlay is added to package main of gridedge-agent (with go build
// -overlay, the tree is not touched) for the profiling build only.
const pprofOverlay = `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("` + pprofListenEnv + `"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
`

// profilingAgent builds gridedge-agent with net/http/pprof served at
// $GRIDEDGE_PPROF_LISTEN and returns the directory holding it.
func profilingAgent(b *testing.B) string {
	return profilingBuild(b, "edge", "gridedge-agent")
}

// profilingBuild builds the command cmd of module (a directory of the
// repository) with net/http/pprof served at $GRIDEDGE_PPROF_LISTEN and
// returns the directory holding the binary.
func profilingBuild(b *testing.B, module, cmdName string) string {
	b.Helper()
	dir := b.TempDir()
	src := writeFile(b, dir, "pprof.go", pprofOverlay)
	target := filepath.Join(repoRoot(), module, "cmd", cmdName, "zz_bench_pprof.go")
	ov, err := json.Marshal(map[string]any{"Replace": map[string]string{target: src}})
	if err != nil {
		b.Fatal(err)
	}
	overlay := writeFile(b, dir, "overlay.json", string(ov))
	cmd := exec.Command("go", "build", "-C", filepath.Join(repoRoot(), module), "-trimpath", "-overlay", overlay, "-o", dir+"/", "./cmd/"+cmdName)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the profiling %s: %v\n%s", cmdName, err, out)
	}
	return dir
}

// edgeRecord is the hub's system/edges/<edge> document: the agent's latest
// heartbeat (its Status) and what the hub applied for the edge.
type edgeRecord struct {
	Heartbeat struct {
		Uptime       float64 `json:"uptime"`
		HubConnected bool    `json:"hub_connected"`
		Buffer       struct {
			Depth    uint64 `json:"depth"`
			NextSeq  uint64 `json:"next_seq"`
			Dropped  uint64 `json:"dropped"`
			Rejected uint64 `json:"rejected"`
		} `json:"buffer"`
		Forwarder struct {
			Sent     uint64 `json:"sent"`
			Batches  uint64 `json:"batches"`
			Failures uint64 `json:"failures"`
		} `json:"forwarder"`
		Slaves []struct {
			Name     string `json:"name"`
			Up       bool   `json:"up"`
			Cycles   uint64 `json:"cycles"`
			Overruns uint64 `json:"overruns"`
			Errors   uint64 `json:"errors"`
		} `json:"slaves"`
	} `json:"heartbeat"`
	Hub struct {
		Batches     uint64 `json:"batches"`
		Applied     uint64 `json:"applied"`
		Skipped     uint64 `json:"skipped"`
		Missing     uint64 `json:"missing"`
		DeadLetters uint64 `json:"dead_letters"`
		LastSeq     uint64 `json:"last_seq"`
	} `json:"hub"`
}

// totals sums the per-slave counters of a heartbeat.
func (r *edgeRecord) totals() (cycles, overruns, errors uint64, up int) {
	for _, s := range r.Heartbeat.Slaves {
		cycles += s.Cycles
		overruns += s.Overruns
		errors += s.Errors
		if s.Up {
			up++
		}
	}
	return cycles, overruns, errors, up
}

// missedCycles counts the cycles each slave fell short of between two
// heartbeats span seconds apart: a slave polled every second completes
// floor(span) or ceil(span) cycles in any such interval, depending on its
// phase, so only fewer than floor(span) is a miss.
func missedCycles(hb0, hb1 edgeRecord, span float64) float64 {
	before := map[string]uint64{}
	for _, s := range hb0.Heartbeat.Slaves {
		before[s.Name] = s.Cycles
	}
	floor := uint64(math.Floor(span))
	var missed uint64
	for _, s := range hb1.Heartbeat.Slaves {
		if done := s.Cycles - before[s.Name]; done < floor {
			missed += floor - done
		}
	}
	return float64(missed)
}

// scaleRun is a running scale setup.
type scaleRun struct {
	*stack
	devices    int
	agentPprof int // port of the profiling agent's pprof server (0: none)
	hubPprof   int // port of the profiling hub's pprof server (0: none)
}

// edge fetches the edge's record from the hub.
func (s *scaleRun) edge() (edgeRecord, error) {
	var resp struct {
		Data edgeRecord `json:"data"`
	}
	code, err := s.get("/api/v2/system/edges/bench", &resp)
	if err != nil || code != 200 {
		return edgeRecord{}, fmt.Errorf("get system/edges/bench: status %d, %v", code, err)
	}
	return resp.Data, nil
}

// nextHeartbeat waits for a heartbeat newer than after (by the agent's uptime).
func (s *scaleRun) nextHeartbeat(b *testing.B, after float64) edgeRecord {
	b.Helper()
	var r edgeRecord
	eventually(b, 30*time.Second, 100*time.Millisecond, "a new heartbeat of the edge", func() bool {
		var err error
		r, err = s.edge()
		return err == nil && r.Heartbeat.Uptime > after
	})
	return r
}

// docs queries the devices collection with a selector and a projection.
func (s *scaleRun) docs(query, fields string) ([]map[string]any, error) {
	q := url.Values{"fields": {fields}, "limit": {"10000"}}
	if query != "" {
		q.Set("query", query)
	}
	var resp struct {
		Data []map[string]any `json:"data"`
	}
	code, err := s.get("/api/v2/site/devices?"+q.Encode(), &resp)
	if err != nil || code != 200 {
		return nil, fmt.Errorf("query site/devices: status %d, %v", code, err)
	}
	return resp.Data, nil
}

// startScale starts simulator, hub and agent for o.devices devices.
func startScale(b *testing.B, o scaleOptions) *scaleRun {
	b.Helper()
	bin := releaseBinaries(b)
	agentBin, agentEnv := bin, []string(nil)
	pprofPort := 0
	if o.profile != "" {
		agentBin = profilingAgent(b)
		pprofPort = freePort(b)
		agentEnv = []string{fmt.Sprintf("%s=127.0.0.1:%d", pprofListenEnv, pprofPort)}
	}
	s := &scaleRun{stack: &stack{dir: b.TempDir(), httpPort: freePort(b), leafPort: freePort(b)}, devices: o.devices}
	hubBin, hubPprof := bin, 0
	if o.hubProfile != "" {
		hubBin = profilingBuild(b, "hub", "gridedge-hub")
		for hubPprof == 0 || hubPprof == pprofPort || hubPprof == s.httpPort || hubPprof == s.leafPort {
			hubPprof = freePort(b)
		}
		s.hubPprof = hubPprof
	}
	taken := map[int]bool{s.httpPort: true, s.leafPort: true, pprofPort: true, hubPprof: true}
	var slaves []string
	for d := 1; d <= o.devices; d++ {
		port := freePort(b)
		for taken[port] {
			port = freePort(b)
		}
		taken[port] = true
		slaves = append(slaves, fmt.Sprintf(`{"ip":"127.0.0.1","port":%d,"slaveId":1,"map":"METER","document":{"layer":"site","collection":"devices","id":"D%d"}}`, port, d))
	}
	settings := writeFile(b, s.dir, "settings.json", fmt.Sprintf(`{"modbusMaps":{"METER":[%s]},"modbusSlaves":[%s],"period":1}`,
		strings.Join(scaleTags(), ","), strings.Join(slaves, ",")))
	hubCfg := writeFile(b, s.dir, "hub.yaml", fmt.Sprintf(`
domain: bench
dataDir: %s
store: {backend: bolt}
http: {listen: "127.0.0.1:%d"}
nats: {listen: "off", leafListen: "127.0.0.1:%d"}
edges: [{id: bench, password: bench-secret-1}]
layers: [{_id: site, collections: [{name: devices}]}]
logLevel: warn
`, filepath.Join(s.dir, "hub"), s.httpPort, s.leafPort))
	agentCfg := writeFile(b, s.dir, "agent.yaml", fmt.Sprintf(`
edge: {id: bench}
domain: bench
hub: {url: "nats-leaf://127.0.0.1:%d", password: bench-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: settings.json
heartbeat: {interval: 1s}
logLevel: warn
`, s.leafPort, filepath.Join(s.dir, "bench")))
	s.sim = startFrom(b, bin, nil, "gridedge", "sim", "--settings", settings, "--each-endpoint", "--interval", "1s", "--log-level", "warn")
	hubEnv := []string{adminPasswordEnv}
	if hubPprof != 0 {
		hubEnv = append(hubEnv, fmt.Sprintf("%s=127.0.0.1:%d", pprofListenEnv, hubPprof))
	}
	if v := os.Getenv(hubGOGCEnv); v != "" {
		hubEnv = append(hubEnv, "GOGC="+v)
	}
	s.hub = startFrom(b, hubBin, hubEnv, "gridedge-hub", "--config", hubCfg)
	eventually(b, 60*time.Second, 100*time.Millisecond, "the hub's REST API", func() bool {
		var v map[string]any
		code, err := getJSON(s.url("/api/v2/health"), &v)
		return err == nil && code == 200
	})
	s.login(b)
	s.agent = startFrom(b, agentBin, agentEnv, "gridedge-agent", "--config", agentCfg)
	eventually(b, 120*time.Second, 500*time.Millisecond, fmt.Sprintf("documents of all %d devices at the hub", o.devices), func() bool {
		if s.sim.exited() || s.hub.exited() || s.agent.exited() {
			b.Fatalf("a process exited during start-up")
		}
		d, err := s.docs("", "_id")
		return err == nil && len(d) == o.devices
	})
	if o.profile != "" {
		s.agentPprof = pprofPort
	}
	return s
}

// timeOf reads a time from a REST document: an RFC 3339 string or {"$date": …}.
func timeOf(v any) (time.Time, bool) {
	if m, ok := v.(map[string]any); ok {
		v = m["$date"]
	}
	str, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	return t, err == nil
}

// sampleLatency collects, until stop is closed, the poll→store latency
// (_updated − measurementsTimestamp) of every new version of the sampled
// documents, polling them every 250 ms (each changes once a second).
func (s *scaleRun) sampleLatency(ids []string, stop <-chan struct{}) []time.Duration {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = strconv.Quote(id)
	}
	query := `{"_id":{"$in":[` + strings.Join(quoted, ",") + `]}}`
	seen := map[string]bool{}
	var lat []time.Duration
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return lat
		case <-tick.C:
		}
		docs, err := s.docs(query, "measurementsTimestamp,_updated")
		if err != nil {
			continue
		}
		for _, d := range docs {
			mts, ok1 := timeOf(d["measurementsTimestamp"])
			up, ok2 := timeOf(d["_updated"])
			key := fmt.Sprint(d["_id"], "@", d["measurementsTimestamp"])
			if !ok1 || !ok2 || seen[key] {
				continue
			}
			seen[key] = true
			lat = append(lat, up.Sub(mts))
		}
	}
}

// procCPUTime returns utime+stime of a process from /proc/<pid>/stat
// (fields 14 and 15, in clock ticks of 1/100 s, Linux's USER_HZ).
func procCPUTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read CPU time of process %d: %v", pid, err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // from field 3 (state) on
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %d fields after the command, want at least 13", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// cpuMeter measures the CPU of some processes over a window.
type cpuMeter struct {
	t0   time.Time
	pids []int
	cpu0 []time.Duration
}

func startCPU(b *testing.B, pids ...int) *cpuMeter {
	m := &cpuMeter{t0: time.Now(), pids: pids}
	for _, p := range pids {
		m.cpu0 = append(m.cpu0, procCPUTime(b, p))
	}
	return m
}

// percent returns each process's CPU since start in % of one core.
func (m *cpuMeter) percent(b *testing.B) []float64 {
	wall := time.Since(m.t0)
	out := make([]float64, len(m.pids))
	for i, p := range m.pids {
		out[i] = 100 * float64(procCPUTime(b, p)-m.cpu0[i]) / float64(wall)
	}
	return out
}

// fetchProfile writes the agent's CPU profile over d to file.
func fetchProfile(port int, d time.Duration, file string) error {
	u := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", port, int(d.Seconds()))
	return fetchPprof(u, d+30*time.Second, file)
}

// fetchPprof writes the profile served at u to file.
func fetchPprof(u string, timeout time.Duration, file string) error {
	resp, err := (&http.Client{Timeout: timeout}).Get(u)
	if err != nil {
		return fmt.Errorf("fetch profile %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("fetch profile %s: status %s", u, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("fetch profile %s: %w", u, err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("write profile of %s: %w", u, err)
	}
	return nil
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func runScaleE2E(b *testing.B, o scaleOptions) {
	load0 := loadAverage()
	s := startScale(b, o)
	time.Sleep(o.warmup)

	// The window.
	hb0 := s.nextHeartbeat(b, 0)
	cpu := startCPU(b, s.agent.cmd.Process.Pid, s.hub.cmd.Process.Pid, s.sim.cmd.Process.Pid)
	var ids []string
	for d := 1; d <= o.devices; d += max(1, o.devices/50) {
		ids = append(ids, fmt.Sprintf("D%d", d))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lat []time.Duration
	wg.Go(func() { lat = s.sampleLatency(ids, stop) })
	var profErr error
	if s.agentPprof != 0 {
		wg.Go(func() { profErr = fetchProfile(s.agentPprof, o.window, o.profile) })
	}
	var maxDepth uint64
	for end := time.Now().Add(o.window); time.Now().Before(end); time.Sleep(time.Second) {
		if r, err := s.edge(); err == nil {
			maxDepth = max(maxDepth, r.Heartbeat.Buffer.Depth)
		}
		if s.agent.exited() || s.hub.exited() || s.sim.exited() {
			b.Fatal("a process exited during the window")
		}
	}
	pct := cpu.percent(b)
	hb1 := s.nextHeartbeat(b, hb0.Heartbeat.Uptime)
	close(stop)
	wg.Wait()
	if profErr != nil {
		b.Error(profErr)
	}
	agentRSS, agentPeak := procMemory(b, s.agent.cmd.Process.Pid)
	hubRSS, hubPeak := procMemory(b, s.hub.cmd.Process.Pid)
	hubParts := hubRSSParts(s.hub.cmd.Process.Pid)
	if s.hubPprof != 0 {
		u := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", s.hubPprof)
		if err := fetchPprof(u, 30*time.Second, o.hubProfile); err != nil {
			b.Error(err)
		}
	}
	simRSS, _ := procMemory(b, s.sim.cmd.Process.Pid)
	load1 := loadAverage()

	c0, o0, e0, _ := hb0.totals()
	c1, o1, e1, up1 := hb1.totals()
	span := hb1.Heartbeat.Uptime - hb0.Heartbeat.Uptime
	expected := float64(o.devices) * span // period 1 s
	missed := missedCycles(hb0, hb1, span)
	depthEnd := hb1.Heartbeat.Buffer.Depth

	// The end: stop the devices, let the agent mark them bad and drain, then
	// account for every update.
	s.sim.stop(b)
	var fin edgeRecord
	stable := 0
	eventually(b, 90*time.Second, 200*time.Millisecond, "the agent to drain its buffer into the hub", func() bool {
		prev := fin
		fin = s.nextHeartbeat(b, prev.Heartbeat.Uptime)
		_, _, _, up := fin.totals()
		h := fin.Heartbeat.Buffer
		done := up == 0 && h.Depth == 0 && fin.Hub.LastSeq+1 == h.NextSeq &&
			prev.Hub.LastSeq == fin.Hub.LastSeq && prev.Heartbeat.Buffer.NextSeq == h.NextSeq
		if done {
			stable++
		} else {
			stable = 0
		}
		return stable >= 2
	})
	docs, err := s.docs("", "measurements.pollCount.value")
	if err != nil {
		b.Fatal(err)
	}
	var reads uint64
	for _, d := range docs {
		m, _ := d["measurements"].(map[string]any)
		pc, _ := m["pollCount"].(map[string]any)
		v, _ := pc["value"].(float64)
		reads += uint64(v)
	}
	lastSeq := fin.Heartbeat.Buffer.NextSeq - 1
	if fin.Hub.LastSeq != lastSeq {
		b.Errorf("hub's high-water mark %d, want the agent's last committed sequence %d", fin.Hub.LastSeq, lastSeq)
	}
	if fin.Hub.Applied != lastSeq || fin.Hub.Missing != 0 || fin.Hub.Skipped != 0 || fin.Hub.DeadLetters != 0 {
		b.Errorf("hub applied %d updates (missing %d, skipped %d, dead letters %d), want %d, 0, 0, 0",
			fin.Hub.Applied, fin.Hub.Missing, fin.Hub.Skipped, fin.Hub.DeadLetters, lastSeq)
	}
	if h := fin.Heartbeat.Buffer; h.Dropped != 0 || h.Rejected != 0 {
		b.Errorf("agent's buffer dropped %d and rejected %d updates, want 0 and 0", h.Dropped, h.Rejected)
	}
	// Every device was read reads_i times and, when no request failed
	// before the devices were stopped, sent one good update per read plus
	// one bad-quality update when they stopped.
	good := int64(fin.Hub.Applied) - int64(o.devices)
	lost := int64(reads) - good
	if e1 == 0 && lost != 0 {
		b.Errorf("devices served %d reads of pollCount; the hub has %d good updates (%d applied − %d bad-quality at the stop); want equal",
			reads, good, fin.Hub.Applied, o.devices)
	}

	slices.Sort(lat)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	if len(lat) < 10 {
		b.Errorf("only %d latency samples", len(lat))
	}
	b.ReportMetric(pct[0], "agent-cpu-%")
	b.ReportMetric(float64(agentPeak)/1024, "agent-peakRSS-MiB")
	b.ReportMetric(pct[1], "hub-cpu-%")
	b.ReportMetric(float64(hubRSS)/1024, "hub-RSS-MiB")
	b.ReportMetric(pct[2], "sim-cpu-%")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(missed, "missed-cycles")

	fmt.Printf("\n%s: %d Modbus TCP devices × %d tags every 1 s, window %s after %s warm-up (release binaries)\n",
		o.name, o.devices, len(scaleTags()), o.window, o.warmup)
	fmt.Printf("load average before %s, after %s (%d CPUs shared with other work)\n", load0, load1, runtime.NumCPU())
	fmt.Printf("%-38s %14s\n", "figure", "value")
	rows := []struct {
		name  string
		value string
	}{
		{"agent CPU (% of one core)", fmt.Sprintf("%.1f", pct[0])},
		{"agent RSS / peak (VmHWM) MiB", fmt.Sprintf("%.1f / %.1f", float64(agentRSS)/1024, float64(agentPeak)/1024)},
		{"hub CPU (% of one core)", fmt.Sprintf("%.1f", pct[1])},
		{"hub RSS / peak MiB", fmt.Sprintf("%.1f / %.1f", float64(hubRSS)/1024, float64(hubPeak)/1024)},
		{"hub RSS anonymous / file-backed MiB", hubParts},
		{"simulator CPU (% of one core)", fmt.Sprintf("%.1f", pct[2])},
		{"simulator RSS MiB", fmt.Sprintf("%.1f", float64(simRSS)/1024)},
		{"poll→hub store p50 / p99 / max ms", fmt.Sprintf("%.1f / %.1f / %.1f", ms(p50), ms(p99), ms(percentile(lat, 100)))},
		{"latency samples (devices)", fmt.Sprintf("%d (%d)", len(lat), len(ids))},
		{"cycles in window / expected", fmt.Sprintf("%d / %.0f", c1-c0, expected)},
		{"missed cycles", fmt.Sprintf("%.0f", missed)},
		{"overruns / request errors in window", fmt.Sprintf("%d / %d", o1-o0, e1-e0)},
		{"slaves up at window end", fmt.Sprintf("%d of %d", up1, len(hb1.Heartbeat.Slaves))},
		{"buffer depth max / at window end", fmt.Sprintf("%d / %d", maxDepth, depthEnd)},
		{"updates committed / hub applied", fmt.Sprintf("%d / %d", lastSeq, fin.Hub.Applied)},
		{"hub high-water mark, missing", fmt.Sprintf("%d, %d", fin.Hub.LastSeq, fin.Hub.Missing)},
		{"batches sent (updates each) / failures", fmt.Sprintf("%d (%.1f) / %d", fin.Heartbeat.Forwarder.Batches,
			float64(fin.Heartbeat.Forwarder.Sent)/float64(max(1, fin.Heartbeat.Forwarder.Batches)), fin.Heartbeat.Forwarder.Failures)},
		{"reads served / good updates stored", fmt.Sprintf("%d / %d", reads, good)},
	}
	for _, r := range rows {
		fmt.Printf("%-38s %14s\n", r.name, r.value)
	}
	if o.profile != "" {
		fmt.Printf("agent CPU profile of the window: %s (go tool pprof -top -cum %s)\n", o.profile, o.profile)
	}
	if o.hubProfile != "" {
		fmt.Printf("hub heap profile at the window's end: %s (go tool pprof -sample_index=inuse_space -top %s)\n", o.hubProfile, o.hubProfile)
	}
}

// hubRSSParts reads RssAnon and RssFile of a process from /proc, in MiB:
// the Go heap and stacks versus mapped files (the bolt store, tsdb chunks).
func hubRSSParts(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	var anon, file int
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "RssAnon:":
			anon = n
		case "RssFile:":
			file = n
		}
	}
	return fmt.Sprintf("%.1f / %.1f", float64(anon)/1024, float64(file)/1024)
}
