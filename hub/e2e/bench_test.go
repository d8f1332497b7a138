package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPollToStore measures the steady-state latency from a poll at
// the edge (the measurement's timestamp) to the hub's commit (the
// document's _updated), sampling the latest update every 20 ms for 10 s while
// two devices are polled every 100 ms.
func BenchmarkPollToStore(b *testing.B) {
	s := startStack(b, 0.1)
	eventually(b, 60*time.Second, 50*time.Millisecond, "first reading", func() bool {
		v, _ := s.measurement("meters", "M1", "counter")
		return v != nil
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seen := map[string]bool{}
		var lat []time.Duration
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			var resp struct {
				Data map[string]any `json:"data"`
			}
			if code, err := s.get("/api/v2/site/meters/M1", &resp); err != nil || code != 200 {
				continue
			}
			ms, _ := resp.Data["measurements"].(map[string]any)
			m, _ := ms["pollCount"].(map[string]any)
			ts, _ := m["timestamp"].(string)
			up, _ := resp.Data["_updated"].(string)
			if ts == "" || seen[ts] {
				continue
			}
			seen[ts] = true
			t0, err1 := time.Parse(time.RFC3339Nano, ts)
			t1, err2 := time.Parse(time.RFC3339Nano, up)
			if err1 == nil && err2 == nil {
				lat = append(lat, t1.Sub(t0))
			}
		}
		if len(lat) < 10 {
			b.Fatalf("only %d samples", len(lat))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		fmt.Printf("poll→hub store latency over %d updates: p50 %v, p99 %v, max %v\n", len(lat),
			p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
	}
}

// BenchmarkAgentRSS polls 50 simulated devices of 100 registers each every
// second for 20 s and reports the agent's resident memory (current and peak).
func BenchmarkAgentRSS(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		modbusPort, httpPort, leafPort := freePort(b), freePort(b), freePort(b)
		var vars []string
		for r := 0; r < 100; r++ {
			vars = append(vars, fmt.Sprintf(`{"name":"r%d","type":"holding","address":%d,"datatype":"16int","factor":0.1}`, r, r))
		}
		var slaves []string
		for d := 1; d <= 50; d++ {
			slaves = append(slaves, fmt.Sprintf(`{"ip":"127.0.0.1","port":%d,"slaveId":%d,"map":"DEV","document":{"layer":"site","collection":"devices","id":"D%d"}}`, modbusPort, d, d))
		}
		settings := writeFile(b, dir, "settings.json", fmt.Sprintf(`{"modbusMaps":{"DEV":[%s]},"modbusSlaves":[%s],"period":1}`,
			strings.Join(vars, ","), strings.Join(slaves, ",")))
		hubCfg := writeFile(b, dir, "hub.yaml", fmt.Sprintf("dataDir: %s\nhttp: {listen: '127.0.0.1:%d'}\nnats: {listen: 'off', leafListen: '127.0.0.1:%d'}\nedges: [{id: e1, password: bench-secret}]\nlayers: [{_id: site, collections: [{name: devices}]}]\n",
			filepath.Join(dir, "hub"), httpPort, leafPort))
		agentCfg := writeFile(b, dir, "agent.yaml", fmt.Sprintf("edge: {id: e1}\nhub: {url: 'nats-leaf://127.0.0.1:%d', password: bench-secret}\ndataDir: %s\nnats: {listen: 'off'}\nsettingsFile: settings.json\nlogLevel: error\n",
			leafPort, filepath.Join(dir, "e1")))
		start(b, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", modbusPort), "--log-level", "error", "--interval", "1s")
		startEnv(b, []string{adminPasswordEnv}, "gridedge-hub", "--config", hubCfg)
		agent := start(b, "gridedge-agent", "--config", agentCfg)
		time.Sleep(20 * time.Second)
		rss, peak := procMemory(b, agent.cmd.Process.Pid)
		b.ReportMetric(float64(rss)/1024, "RSS-MiB")
		b.ReportMetric(float64(peak)/1024, "peakRSS-MiB")
		fmt.Printf("agent polling 50 devices × 100 registers at 1 s: RSS %.1f MiB, peak %.1f MiB\n", float64(rss)/1024, float64(peak)/1024)
	}
}

// procMemory returns VmRSS and VmHWM of a process in KiB.
func procMemory(b *testing.B, pid int) (rss, peak int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = n
		case "VmHWM:":
			peak = n
		}
	}
	return rss, peak
}
