package e2e

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// TestReadingTravelsToREST: a value written into the simulated device is
// polled by the agent, buffered, forwarded over the leaf link, applied by the
// hub and served by REST; animated values keep changing.
func TestReadingTravelsToREST(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binaries; skipped with -short")
	}
	s := startStack(t, 0.2)

	writeRegister(t, s.modbusPort, 1, 1, 4242)
	eventually(t, 30*time.Second, 50*time.Millisecond, "temperature 4242 in REST", func() bool {
		v, _ := s.measurement("hvac", "SENSOR_ABC", "temperature")
		return v == 4242.0
	})
	writeRegister(t, s.modbusPort, 1, 3, 3)
	eventually(t, 10*time.Second, 50*time.Millisecond, "mode FAN (translated) in REST", func() bool {
		v, _ := s.measurement("hvac", "SENSOR_ABC", "mode")
		return v == "FAN"
	})

	// the simulator's counter advances, and so does the document
	first, err := s.measurement("meters", "M1", "counter")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, 100*time.Millisecond, "the counter to advance", func() bool {
		v, _ := s.measurement("meters", "M1", "counter")
		return v != nil && v != first
	})

	// the collection lists both documents with the seed's response shape
	var list struct {
		Status string           `json:"status"`
		Data   []map[string]any `json:"data"`
	}
	if code, err := s.get("/api/v2/site/meters", &list); err != nil || code != 200 || list.Status != "success" || len(list.Data) != 1 {
		t.Fatalf("GET collection: %d %v %+v", code, err, list)
	}
	var e struct{ Status, Message string }
	// without credentials: 401
	if code, err := getJSON(s.url("/api/v2/site/meters"), &e); err != nil || code != 401 || e.Status != "error" {
		t.Fatalf("GET without credentials: %d %v %+v", code, err, e)
	}
	// the edge's heartbeat is kept in system/edges
	var edge struct {
		Data map[string]any `json:"data"`
	}
	eventually(t, 10*time.Second, 100*time.Millisecond, "the edge's heartbeat in system/edges", func() bool {
		code, err := s.get("/api/v2/system/edges/edge1", &edge)
		return err == nil && code == 200 && edge.Data["heartbeat"] != nil
	})
	hb := edge.Data["heartbeat"].(map[string]any)
	if hb["edge"] != "edge1" || hb["hub_connected"] != true || hb["version"] == "" {
		t.Fatalf("heartbeat record %v", edge.Data)
	}
	// an unknown collection is a 404 with an error body
	e = struct{ Status, Message string }{}
	if code, err := s.get("/api/v2/site/nope", &e); err != nil || code != 404 || e.Status != "error" || e.Message == "" {
		t.Fatalf("GET unknown collection: %d %v %+v", code, err, e)
	}
}

// TestHubDownAgentBuffers: while the hub is down the agent keeps polling and
// buffering; after the hub restarts, the backlog arrives.
func TestHubDownAgentBuffers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binaries; skipped with -short")
	}
	s := startStack(t, 0.2)
	writeRegister(t, s.modbusPort, 1, 1, 1)
	eventually(t, 30*time.Second, 50*time.Millisecond, "first value", func() bool {
		v, _ := s.measurement("hvac", "SENSOR_ABC", "temperature")
		return v == 1.0
	})
	s.hub.stop(t)
	writeRegister(t, s.modbusPort, 1, 1, 777)
	time.Sleep(time.Second) // the agent polls 777 while the hub is down
	if s.agent.exited() {
		t.Fatal("the agent exited while the hub was down")
	}
	s.restartHub(t)
	eventually(t, 60*time.Second, 100*time.Millisecond, "the buffered value after the hub restart", func() bool {
		v, _ := s.measurement("hvac", "SENSOR_ABC", "temperature")
		return v == 777.0
	})
}

// TestBadConfigExitsWithFieldPath: a config error names the field and exits non-zero.
func TestBadConfigExitsWithFieldPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries; skipped with -short")
	}
	dir := t.TempDir()
	tests := []struct {
		name, bin, cfg, want string
	}{
		{"unknown field", "gridedge-agent", `{"edge":{"id":"e1"},"settings":{"modbusMaps":{"M":[{"name":"a","type":"holding","address":0,"datatype":"16uint","colour":"red"}]},"modbusSlaves":[]}}`, "settings.modbusMaps.M[0].colour: unknown field"},
		{"wrong type", "gridedge-agent", `{"edge":{"id":"e1"},"settings":{"modbusMaps":{"M":[]},"modbusSlaves":[{"ip":"h","slaveId":"one","map":"M"}]}}`, "settings.modbusSlaves[0].slaveId: want a whole number"},
		{"missing map", "gridedge-agent", `{"edge":{"id":"e1"},"settings":{"modbusMaps":{"M":[]},"modbusSlaves":[{"ip":"h","slaveId":1,"map":"X"}]}}`, `settings.modbusSlaves[0].map: "X" is not defined in modbusMaps`},
		{"hub bad edge", "gridedge-hub", "edges: [{id: 'a.b', password: 'long-enough'}]", "edges[0].id"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeFile(t, dir, "cfg"+strconv.Itoa(i)+".json", tt.cfg)
			p := start(t, tt.bin, "--config", cfg, "--check-config")
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				t.Fatal("did not exit")
			}
			if p.cmd.ProcessState.ExitCode() == 0 {
				t.Fatalf("exit code 0 for a bad config; output: %s", p.log.String())
			}
			if out := p.log.String(); !contains(out, tt.want) {
				t.Fatalf("output %q does not name the problem %q", out, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// BenchmarkSimToREST measures the time from a change of a register in the
// simulator to its visibility through REST, over 100 changes, with the
// device polled every 100 ms. It reports the median and p99.
func BenchmarkSimToREST(b *testing.B) {
	s := startStack(b, 0.1)
	writeRegister(b, s.modbusPort, 1, 1, 1)
	eventually(b, 60*time.Second, 20*time.Millisecond, "first value", func() bool {
		v, _ := s.measurement("hvac", "SENSOR_ABC", "temperature")
		return v == 1.0
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var lat []time.Duration
		for k := 0; k < 100; k++ {
			val := uint16(1000 + k)
			t0 := time.Now()
			writeRegister(b, s.modbusPort, 1, 1, val)
			for {
				v, _ := s.measurement("hvac", "SENSOR_ABC", "temperature")
				if v == float64(val) {
					break
				}
				if time.Since(t0) > 30*time.Second {
					b.Fatalf("value %d not visible after 30s", val)
				}
				time.Sleep(2 * time.Millisecond)
			}
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[49].Microseconds())/1000, "median-ms")
		b.ReportMetric(float64(lat[98].Microseconds())/1000, "p99-ms")
		fmt.Printf("sim→REST latency over 100 changes (poll period 100 ms): min %v, median %v, p99 %v, max %v\n",
			lat[0].Round(time.Millisecond), lat[49].Round(time.Millisecond), lat[98].Round(time.Millisecond), lat[99].Round(time.Millisecond))
	}
}

// TestBinariesAnswerVersionAndHelp: every binary answers --version and
// --help, and an unknown flag ends with a message and a non-zero exit.
func TestBinariesAnswerVersionAndHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries; skipped with -short")
	}
	for _, bin := range []string{"gridedge-hub", "gridedge-agent", "gridedge"} {
		for _, tt := range []struct {
			arg      string
			wantCode int
			want     string
		}{
			{"--version", 0, bin + " "},
			{"--help", 0, "Usage"},
			{"--no-such-flag", 2, "no-such-flag"},
		} {
			p := start(t, bin, tt.arg)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s %s did not exit", bin, tt.arg)
			}
			code := p.cmd.ProcessState.ExitCode()
			if (tt.wantCode == 0) != (code == 0) || !strings.Contains(p.log.String(), tt.want) {
				t.Errorf("%s %s: exit %d, output %q; want exit %d and %q", bin, tt.arg, code, p.log.String(), tt.wantCode, tt.want)
			}
		}
	}
}
