package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of BenchmarkBacklogReplay.
const (
	// backlogE2EEnv sets the outage's length, e.g. "1h" or "24h", and with
	// it 500 devices; unset, the benchmark runs its small smoke size.
	backlogE2EEnv = "GRIDEDGE_BENCH_BACKLOG_E2E"
	// backlogE2EDevicesEnv overrides the number of devices.
	backlogE2EDevicesEnv = "GRIDEDGE_BENCH_BACKLOG_E2E_DEVICES"
	// backlogE2EDirEnv puts the run's data (agent buffer, hub store and
	// history) in this directory instead of a temporary one; it is
	// removed at the end all the same.
	backlogE2EDirEnv = "GRIDEDGE_BENCH_BACKLOG_E2E_DIR"
	// backlogE2EProfileEnv names a file: the hub is then built with
	// net/http/pprof and its CPU profile of the replay's first minute
	// (or all of it, when shorter) is written there, and its heap profile
	// at the replay's end beside it (the name with ".heap").
	backlogE2EProfileEnv = "GRIDEDGE_BENCH_BACKLOG_E2E_HUB_PROFILE"
)

// backlogSummary is what gridedge-backlog --expect writes.
type backlogSummary struct {
	Devices    int                           `json:"devices"`
	Tags       int                           `json:"tags"`
	Cycles     int                           `json:"cycles"`
	PeriodMS   int64                         `json:"period_ms"`
	Updates    uint64                        `json:"updates"`
	Readings   uint64                        `json:"readings"`
	FirstSeq   uint64                        `json:"first_seq"`
	LastSeq    uint64                        `json:"last_seq"`
	Start      time.Time                     `json:"start"`
	First      time.Time                     `json:"first"`
	Last       time.Time                     `json:"last"`
	WireBytes  uint64                        `json:"wire_bytes"`
	FileBytes  int64                         `json:"file_bytes"`
	Seconds    float64                       `json:"seconds"`
	LastValues map[string]map[string]float64 `json:"last_values"`
}

// timestamp is when device d (1-based) was read in cycle c: the
// generator's rule (edge/buffer/backlog Options.Timestamp).
func (s *backlogSummary) timestamp(d, c int) time.Time {
	period := time.Duration(s.PeriodMS) * time.Millisecond
	off := (period * time.Duration(d-1) / time.Duration(s.Devices)).Truncate(time.Millisecond)
	return s.Start.Add(time.Duration(c)*period + off)
}

// BenchmarkBacklogReplay is issue 12's backlog figure with the real
// binaries: an edge that was cut off from the hub for a while (24 h of
// 500 devices × 30 tags @ 1 s is 43.2 million updates, 1.296 billion
// readings) comes back and replays its buffer. gridedge-backlog writes the
// backdated readings into the agent's buffer file through the buffer's own
// API (edge/buffer/backlog); then a hub (bolt store, embedded TSDB history,
// defaults otherwise) and the agent (no devices, so that nothing but the
// backlog flows) start, and the benchmark measures the replay from the
// first batch applied at the hub to the last: readings/s, the CPU and
// peak RSS of both processes, the buffer's size before and the hub's
// history after, and the largest disk use of the run. Then it checks that
// nothing is missing: every series of every device has one point per
// cycle in every hour of the window (REST history, step=1h&agg=count),
// the documents hold the last generated values, the hub applied every
// sequence number and refused no history point.
//
//	GRIDEDGE_BENCH_BACKLOG_E2E=1h go test -run '^$' -bench BenchmarkBacklogReplay -benchtime 1x -timeout 3h ./e2e/
//
// Unset, it replays 5 minutes of 50 devices (a smoke run of about a
// minute). GRIDEDGE_BENCH_BACKLOG_E2E_DEVICES changes the number of
// devices and GRIDEDGE_BENCH_BACKLOG_E2E_DIR where the data goes: 24 h
// needs about 25 GB (docs/history.md, "Backlog replay").
//
// The agent's buffer bounds must hold the backlog: the defaults
// (10,000,000 updates, 1 GiB) hold about 5.5 h of 500 devices at 1 s, so
// the agent here is configured as an operator must configure it for a
// day's outage (buffer.maxUpdates, buffer.maxBytes). The hub's
// history.outOfOrderWindow (default 7 days) and the agent's buffer.maxAge
// (default none) need no change for 24 h.
func BenchmarkBacklogReplay(b *testing.B) {
	outage, devices := 5*time.Minute, 50
	if v := os.Getenv(backlogE2EEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			b.Fatalf("%s=%q: want a duration of at least 1m", backlogE2EEnv, v)
		}
		outage, devices = d, 500
	}
	if v := os.Getenv(backlogE2EDevicesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of devices", backlogE2EDevicesEnv, v)
		}
		devices = n
	}
	for range b.N {
		runBacklogReplay(b, outage, devices)
	}
}

// backlogTool builds gridedge-backlog and returns its path.
func backlogTool(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command("go", "build", "-C", filepath.Join(repoRoot(), "edge"), "-trimpath", "-o", dir+"/", "./cmd/gridedge-backlog")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build gridedge-backlog: %v\n%s", err, out)
	}
	return filepath.Join(dir, "gridedge-backlog")
}

// dirBytes returns the bytes of the files under dir (allocated blocks, so
// that sparse and preallocated files count as the disk sees them).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += allocated(fi)
		}
		return nil
	})
	return n
}

func runBacklogReplay(b *testing.B, outage time.Duration, devices int) {
	bin := releaseBinaries(b)
	tool := backlogTool(b)
	dir := b.TempDir()
	if d := os.Getenv(backlogE2EDirEnv); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "gridedge-backlog-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	s := &scaleRun{stack: &stack{dir: dir, httpPort: freePort(b), leafPort: freePort(b)}, devices: devices}
	agentData := filepath.Join(dir, "bench")

	// The backlog, backdated to end now.
	load0 := loadAverage()
	expectFile := filepath.Join(dir, "expect.json")
	gen := exec.Command(tool, "--buffer", filepath.Join(agentData, "buffer.db"), "--devices", strconv.Itoa(devices),
		"--duration", outage.String(), "--expect", expectFile)
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("gridedge-backlog: %v\n%s", err, out)
	} else {
		fmt.Print(string(out))
	}
	data, err := os.ReadFile(expectFile)
	if err != nil {
		b.Fatal(err)
	}
	var want backlogSummary
	if err := json.Unmarshal(data, &want); err != nil {
		b.Fatalf("decode %s: %v", expectFile, err)
	}
	bufferBytes := dirBytes(agentData)

	// a map and no devices: the agent polls nothing, only the backlog flows
	settings := writeFile(b, dir, "settings.json", fmt.Sprintf(`{"modbusMaps":{"METER":[%s]},"modbusSlaves":[],"period":1}`, strings.Join(scaleTags(), ",")))
	hubCfg := writeFile(b, dir, "hub.yaml", fmt.Sprintf(`
domain: bench
dataDir: %s
store: {backend: bolt}
http: {listen: "127.0.0.1:%d", rateLimit: {off: true}}
nats: {listen: "off", leafListen: "127.0.0.1:%d"}
edges: [{id: bench, password: bench-secret-1}]
layers: [{_id: site, collections: [{name: devices}]}]
logLevel: warn
`, filepath.Join(dir, "hub"), s.httpPort, s.leafPort))
	agentCfg := writeFile(b, dir, "agent.yaml", fmt.Sprintf(`
edge: {id: bench}
domain: bench
hub: {url: "nats-leaf://127.0.0.1:%d", password: bench-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: %s
heartbeat: {interval: 1s}
buffer: {maxUpdates: %d, maxBytes: %d}
logLevel: warn
`, s.leafPort, agentData, settings, max(10_000_000, want.Updates+want.Updates/10), max(1<<30, 2*want.WireBytes)))
	hubBin, hubEnv, profile := bin, []string{adminPasswordEnv}, os.Getenv(backlogE2EProfileEnv)
	if profile != "" {
		hubBin = profilingBuild(b, "hub", "gridedge-hub")
		for s.hubPprof == 0 || s.hubPprof == s.httpPort || s.hubPprof == s.leafPort {
			s.hubPprof = freePort(b)
		}
		hubEnv = append(hubEnv, fmt.Sprintf("%s=127.0.0.1:%d", pprofListenEnv, s.hubPprof))
	}
	s.hub = startFrom(b, hubBin, hubEnv, "gridedge-hub", "--config", hubCfg)
	eventually(b, 60*time.Second, 100*time.Millisecond, "the hub's REST API", func() bool {
		var v map[string]any
		code, err := getJSON(s.url("/api/v2/health"), &v)
		return err == nil && code == 200
	})
	s.login(b)
	hubDir := filepath.Join(dir, "hub")
	hubBefore := dirBytes(hubDir)
	s.agent = startFrom(b, bin, nil, "gridedge-agent", "--config", agentCfg)

	// The replay: from the first batch applied to the last.
	var t0 time.Time
	var cpu *cpuMeter
	eventually(b, 5*time.Minute, 50*time.Millisecond, "the first batch at the hub", func() bool {
		if s.hub.exited() || s.agent.exited() {
			b.Fatal("a process exited before the replay started")
		}
		r, err := s.edge()
		if err == nil && r.Hub.Applied > 0 {
			t0 = time.Now()
			cpu = startCPU(b, s.agent.cmd.Process.Pid, s.hub.cmd.Process.Pid)
			return true
		}
		return false
	})
	profDone := make(chan error, 1)
	if profile != "" {
		go func() {
			d := min(time.Minute, time.Duration(float64(want.Readings)/150_000*float64(time.Second)))
			profDone <- fetchProfile(s.hubPprof, max(d, 5*time.Second), profile)
		}()
	}
	var fin edgeRecord
	var peakDisk int64
	var peakLoad float64
	lastLog := time.Now()
	var fwdErrors []string // the forwarder's distinct errors seen in heartbeats (the first few)
	for {
		if s.hub.exited() || s.agent.exited() {
			b.Fatal("a process exited during the replay")
		}
		r, err := s.edge()
		if err == nil && r.Hub.LastSeq >= want.LastSeq {
			fin = r
			break
		}
		if e := s.forwarderError(); e != "" && len(fwdErrors) < 5 && (len(fwdErrors) == 0 || fwdErrors[len(fwdErrors)-1] != e) {
			fwdErrors = append(fwdErrors, time.Now().UTC().Format(time.TimeOnly)+" "+e)
		}
		peakDisk = max(peakDisk, dirBytes(dir))
		if l, err := strconv.ParseFloat(strings.Fields(loadAverage())[0], 64); err == nil {
			peakLoad = max(peakLoad, l)
		}
		if time.Since(lastLog) >= time.Minute {
			lastLog = time.Now()
			fmt.Printf("replay: %d of %d updates applied after %s (%.0f readings/s), disk %.2f GB, load %s\n", r.Hub.LastSeq, want.LastSeq,
				time.Since(t0).Round(time.Second), float64(r.Hub.LastSeq)*float64(want.Tags)/time.Since(t0).Seconds(), float64(dirBytes(dir))/1e9, loadAverage())
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(t0)
	pct := cpu.percent(b)
	_, agentPeak := procMemory(b, s.agent.cmd.Process.Pid)
	hubRSS, hubPeak := procMemory(b, s.hub.cmd.Process.Pid)
	load1 := loadAverage()
	rate := float64(want.Readings) / took.Seconds()
	hubAfter := dirBytes(hubDir)
	historyBytes := dirBytes(filepath.Join(hubDir, "history"))
	if profile != "" {
		// the heap at the replay's end: what the hub holds after taking it all
		u := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", s.hubPprof)
		if err := fetchPprof(u, time.Minute, profile+".heap"); err != nil {
			b.Error(err)
		} else {
			fmt.Printf("hub heap profile at the replay's end: %s.heap (go tool pprof -sample_index=inuse_space -top %s.heap)\n", profile, profile)
		}
	}

	if profile != "" {
		if err := <-profDone; err != nil {
			b.Error(err)
		} else {
			fmt.Printf("hub CPU profile of the replay's start: %s (go tool pprof -top -cum %s)\n", profile, profile)
		}
	}

	// Nothing missing: the hub's counters, then the history, then the documents.
	// Skipped updates are batches the hub received again and recognised
	// by its high-water mark: no loss, but work done twice (reported below).
	if fin.Hub.Applied != want.LastSeq || fin.Hub.Missing != 0 || fin.Hub.DeadLetters != 0 {
		b.Errorf("hub applied %d updates (missing %d, dead letters %d), want %d, 0, 0",
			fin.Hub.Applied, fin.Hub.Missing, fin.Hub.DeadLetters, want.LastSeq)
	}
	var refused struct {
		Data struct {
			Hub struct {
				HistoryRefused uint64 `json:"history_refused"`
			} `json:"hub"`
		} `json:"data"`
	}
	if code, err := s.get("/api/v2/system/edges/bench", &refused); err != nil || code != 200 {
		b.Errorf("get system/edges/bench: %d, %v", code, err)
	} else if n := refused.Data.Hub.HistoryRefused; n != 0 {
		b.Errorf("the hub's history refused %d points of the backlog", n)
	}
	v0 := time.Now()
	series, points := s.checkBacklogHistory(b, &want)
	verifyTook := time.Since(v0)
	s.checkBacklogDocuments(b, &want)
	fin = s.nextHeartbeat(b, fin.Heartbeat.Uptime)
	if h := fin.Heartbeat.Buffer; h.Dropped != 0 || h.Rejected != 0 {
		b.Errorf("agent's buffer dropped %d and rejected %d updates, want 0 and 0", h.Dropped, h.Rejected)
	}
	agentAfter := dirBytes(agentData)

	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(took.Seconds(), "replay-s")
	b.ReportMetric(pct[0], "agent-cpu-%")
	b.ReportMetric(float64(agentPeak)/1024, "agent-peakRSS-MiB")
	b.ReportMetric(pct[1], "hub-cpu-%")
	b.ReportMetric(float64(hubPeak)/1024, "hub-peakRSS-MiB")
	b.ReportMetric(float64(historyBytes)/float64(want.Readings), "history-B/reading")
	b.ReportMetric(float64(fin.Hub.Skipped), "skipped-updates")

	gb := func(n int64) string { return fmt.Sprintf("%.2f GB", float64(n)/1e9) }
	fmt.Printf("\nbacklog replay: %s of %d devices × %d tags @ %d ms = %d updates, %d readings (release binaries)\n",
		outage, want.Devices, want.Tags, want.PeriodMS, want.Updates, want.Readings)
	fmt.Printf("load average before %s, after %s, highest 1-min during the replay %.2f (%d CPUs shared with other work)\n",
		load0, load1, peakLoad, runtime.NumCPU())
	fmt.Printf("%-44s %24s\n", "figure", "value")
	rows := []struct{ name, value string }{
		{"backlog written by gridedge-backlog in", fmt.Sprintf("%.1f s", want.Seconds)},
		{"buffer before: wire bytes / file (B/reading)", fmt.Sprintf("%.2f / %.2f", float64(want.WireBytes)/float64(want.Readings), float64(bufferBytes)/float64(want.Readings))},
		{"buffer file before", gb(bufferBytes)},
		{"replay, first batch applied → last", took.Round(time.Millisecond).String()},
		{"readings/s (updates/s)", fmt.Sprintf("%.0f (%.0f)", rate, float64(want.Updates)/took.Seconds())},
		{"agent CPU (% of one core)", fmt.Sprintf("%.1f", pct[0])},
		{"agent peak RSS MiB", fmt.Sprintf("%.1f", float64(agentPeak)/1024)},
		{"hub CPU (% of one core)", fmt.Sprintf("%.1f", pct[1])},
		{"hub RSS at the end / peak MiB", fmt.Sprintf("%.1f / %.1f", float64(hubRSS)/1024, float64(hubPeak)/1024)},
		{"hub data before / after", gb(hubBefore) + " / " + gb(hubAfter)},
		{"hub history (tsdb) after (B/reading)", fmt.Sprintf("%s (%.2f)", gb(historyBytes), float64(historyBytes)/float64(want.Readings))},
		{"agent buffer after (compacted)", gb(agentAfter)},
		{"peak disk of the run (sampled)", gb(peakDisk)},
		{"batches (updates each) / failures", fmt.Sprintf("%d (%.1f) / %d", fin.Heartbeat.Forwarder.Batches,
			float64(fin.Heartbeat.Forwarder.Sent)/float64(max(1, fin.Heartbeat.Forwarder.Batches)), fin.Heartbeat.Forwarder.Failures)},
		{"hub applied / high-water mark / missing", fmt.Sprintf("%d / %d / %d", fin.Hub.Applied, fin.Hub.LastSeq, fin.Hub.Missing)},
		{"updates received again, skipped by the hwm", fmt.Sprintf("%d (%.1f%%)", fin.Hub.Skipped, 100*float64(fin.Hub.Skipped)/float64(want.Updates))},
		{"history series checked / points counted", fmt.Sprintf("%d / %d", series, points)},
		{"history check (REST, step=1h agg=count) took", verifyTook.Round(time.Millisecond).String()},
	}
	for _, r := range rows {
		fmt.Printf("%-44s %24s\n", r.name, r.value)
	}
	for _, e := range fwdErrors {
		fmt.Printf("forwarder error seen in a heartbeat: %s\n", e)
	}
}

// forwarderError returns the forwarder's last error in the edge's latest
// heartbeat ("" when its last send succeeded or on failure to ask).
func (s *scaleRun) forwarderError() string {
	var resp struct {
		Data struct {
			Heartbeat struct {
				Forwarder struct {
					LastError string `json:"last_error"`
				} `json:"forwarder"`
			} `json:"heartbeat"`
		} `json:"data"`
	}
	if code, err := s.get("/api/v2/system/edges/bench", &resp); err != nil || code != 200 {
		return ""
	}
	return resp.Data.Heartbeat.Forwarder.LastError
}

// checkBacklogHistory asks the REST history of every device for the
// window with step=1h&agg=count and checks every hour of every series
// against the generated timestamps: no gap, no extra point. It returns the
// series and points it counted.
func (s *scaleRun) checkBacklogHistory(b *testing.B, want *backlogSummary) (series int, points uint64) {
	b.Helper()
	from := want.Start.Add(-time.Hour).Truncate(time.Hour)
	to := want.Last.Add(time.Hour).Truncate(time.Hour)
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "step": {"1h"}, "agg": {"count"}}
	bad := 0
	for d := 1; d <= want.Devices; d++ {
		id := fmt.Sprintf("D%d", d)
		expected := map[int64]float64{} // hour (ms) → points
		for c := 0; c < want.Cycles; c++ {
			expected[want.timestamp(d, c).Truncate(time.Hour).UnixMilli()]++
		}
		var resp struct {
			Status string `json:"status"`
			Data   []struct {
				ID     string  `json:"_id"`
				Field  string  `json:"field"`
				Points [][]any `json:"points"`
			} `json:"data"`
		}
		code, err := s.get("/api/v2/history/site/devices/"+id+"?"+q.Encode(), &resp)
		if err != nil || code != 200 || resp.Status != "success" {
			b.Fatalf("GET history of %s: %d, %v", id, code, err)
		}
		if len(resp.Data) != want.Tags {
			b.Errorf("%s: %d series in the history, want %d", id, len(resp.Data), want.Tags)
		}
		for _, sr := range resp.Data {
			series++
			got := map[int64]float64{}
			for _, p := range sr.Points {
				t, ok := pointTime(p[0])
				n, _ := p[1].(float64)
				if !ok {
					b.Fatalf("%s %s: point %v has no time", id, sr.Field, p)
				}
				got[t.UnixMilli()] = n
				points += uint64(n)
			}
			for h, n := range expected {
				if got[h] != n && bad < 20 {
					bad++
					b.Errorf("%s %s: %v points in the hour from %s, want %v", id, sr.Field, got[h], time.UnixMilli(h).UTC().Format(time.RFC3339), n)
				}
			}
			for h, n := range got {
				if _, ok := expected[h]; !ok && bad < 20 {
					bad++
					b.Errorf("%s %s: %v points in the hour from %s, want none", id, sr.Field, n, time.UnixMilli(h).UTC().Format(time.RFC3339))
				}
			}
		}
	}
	if want := uint64(want.Readings); points != want {
		b.Errorf("history holds %d points of the window, want %d (every reading of the backlog)", points, want)
	}
	return series, points
}

// pointTime reads a point's time: milliseconds or an RFC 3339 string.
func pointTime(v any) (time.Time, bool) {
	if ms, ok := v.(float64); ok {
		return time.UnixMilli(int64(ms)), true
	}
	return timeOf(v)
}

// checkBacklogDocuments checks that every device's document holds the last
// generated value of every tag, and that reading's timestamp.
func (s *scaleRun) checkBacklogDocuments(b *testing.B, want *backlogSummary) {
	b.Helper()
	docs, err := s.docs("", "measurements,measurementsTimestamp")
	if err != nil {
		b.Fatal(err)
	}
	if len(docs) != want.Devices {
		b.Errorf("%d device documents, want %d", len(docs), want.Devices)
	}
	bad := 0
	for _, doc := range docs {
		id, _ := doc["_id"].(string)
		d, err := strconv.Atoi(strings.TrimPrefix(id, "D"))
		if err != nil || want.LastValues[id] == nil {
			b.Errorf("unexpected document %q", id)
			continue
		}
		if ts, ok := timeOf(doc["measurementsTimestamp"]); !ok || !ts.Equal(want.timestamp(d, want.Cycles-1)) {
			b.Errorf("%s: measurementsTimestamp %v, want %s", id, doc["measurementsTimestamp"], want.timestamp(d, want.Cycles-1).Format(time.RFC3339Nano))
		}
		ms, _ := doc["measurements"].(map[string]any)
		for tag, v := range want.LastValues[id] {
			m, _ := ms[tag].(map[string]any)
			got, ok := m["value"].(float64)
			// 32-bit floats travel as float32 and come back in their
			// shortest decimal form: equal to 7 significant digits
			if !ok || math.Abs(got-v) > 1e-6*math.Max(1, math.Abs(v)) {
				if bad++; bad <= 20 {
					b.Errorf("%s %s: value %v, want the last generated %v", id, tag, m["value"], v)
				}
			}
		}
	}
}

// allocated returns the disk blocks a file uses, in bytes (its size when
// the file system does not say).
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
