package history

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// victoriaMetrics starts VictoriaMetrics (Debian's victoria-metrics) on a
// free loopback port with its storage in a temporary directory and returns
// its base URL. Without the binary the test skips, and fails when
// GRIDEDGE_REQUIRE_INTEROP=1.
func victoriaMetrics(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		bin = "/usr/bin/victoria-metrics"
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
				t.Fatalf("no victoria-metrics for the remote history tests: %v", err)
			}
			t.Skipf("no victoria-metrics for the remote history tests (apt-get install victoria-metrics, or scripts/install-test-deps.sh): %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-retentionPeriod=100y", "-loggerLevel=ERROR")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // drain its log so it never blocks
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("victoria-metrics on %s did not become healthy: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The remote backend writes with remote-write and reads back through the
// query API what the embedded engine would answer.
func TestRemoteVictoriaMetrics(t *testing.T) {
	base := victoriaMetrics(t)
	ctx := context.Background()
	r, err := OpenRemote(RemoteOptions{WriteURL: base + "/api/v1/write", ReadURL: base})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	at := func(sec int) time.Time { return start.Add(time.Duration(sec) * time.Second) }
	samples := []Sample{
		{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.voltage", T: at(0), Value: 230.5, Quality: 1},
		{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.voltage", T: at(1), Value: 231.5, Quality: 2},
		{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.mode", T: at(0), Value: "COLD", Quality: 1},
		{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.mode", T: at(1), Value: "COLD", Quality: 1},
		{Layer: "demo", Collection: "meters", ID: "M2", Field: "measurements.on", T: at(0), Value: true, Quality: 1},
	}
	res, err := r.Append(ctx, samples)
	if err != nil {
		t.Fatal(err)
	}
	if want := (AppendResult{Written: 4, Unchanged: 1}); res != want {
		t.Errorf("Append = %+v, want %+v", res, want)
	}
	resp, err := http.Get(base + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ts := func(sec int) string { return at(sec).UTC().Format("2006-01-02T15:04:05.000Z") }
	tests := []struct {
		name string
		q    Query
		want map[string]string
	}{
		{"raw", Query{From: at(0), To: at(10)}, map[string]string{
			"M1 measurements.mode":    fmt.Sprintf(`[["%s","COLD",1]]`, ts(0)),
			"M1 measurements.voltage": fmt.Sprintf(`[["%s",230.5,1],["%s",231.5,2]]`, ts(0), ts(1)),
			"M2 measurements.on":      fmt.Sprintf(`[["%s",1,1]]`, ts(0)),
		}},
		{"step max", Query{IDs: []string{"M1"}, Fields: []string{"measurements.voltage"}, From: at(0), To: at(10), Step: time.Hour, Agg: AggMax},
			map[string]string{"M1 measurements.voltage": fmt.Sprintf(`[["%s",231.5,2]]`, ts(0))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Layer, tt.q.Collection = "demo", "meters"
			var got map[string]string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if got = collect(t, r, tt.q); len(got) == len(tt.want) || time.Now().After(deadline) {
					break
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if got[k] != w {
					t.Errorf("%s: got %s, want %s", k, got[k], w)
				}
			}
		})
	}
	fields, err := r.Fields(ctx, "demo", "meters", "M1", at(0), at(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 2 {
		t.Errorf("Fields = %v, want mode and voltage", fields)
	}
}
