package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// csvHub answers GET /api/v2/history/… with format=csv as the hub does
// (docs/api.md: text/csv, header timestamp,_id,field,value,quality, then
// one row per point, streamed), rows rows of it; a bad parameter is a 400
// with the JSON error envelope; cut=true breaks the body off mid-row.
type csvHub struct {
	rows int
	cut  bool
	got  []string // the request URIs
}

func (h *csvHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.got = append(h.got, r.URL.RequestURI())
	if r.Header.Get("X-User-ID") != "reader" || r.Header.Get("X-Auth-Token") != "tok" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		fmt.Fprint(w, `{"status":"error","message":"credentials required"}`)
		return
	}
	if a := r.URL.Query().Get("agg"); a != "" && a != "avg" && a != "max" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"status": "error", "message": fmt.Sprintf("invalid history request: agg %q is not one of avg, min, max, sum, count, first, last", a)})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	fmt.Fprint(w, "timestamp,_id,field,value,quality\n")
	for i := range h.rows {
		fmt.Fprintf(w, "2024-05-01T00:%02d:%02d.000Z,M1,measurements.voltage,%d.5,1\n", i/60%60, i%60, 230+i%3)
	}
	if h.cut {
		fmt.Fprint(w, "2024-05-01T01:00:00.000Z,M1,measure")
	}
}

func runExportCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), Env{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestExport(t *testing.T) {
	h := &csvHub{rows: 5000}
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv("GRIDEDGE_HUB_URL", srv.URL)
	t.Setenv("GRIDEDGE_TOKEN", "tok")
	code, out, errs := runExportCLI(t, "export", "--user", "reader", "--layer", "demo", "--collection", "meters", "--id", "M 1",
		"--from", "2024-05-01", "--to", "2024-05-02T00:00:00Z", "--step", "1m", "--agg", "max", "--fields", "measurements.voltage", "--limit", "10")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "/api/v2/history/demo/meters/M%201?agg=max&fields=measurements.voltage&format=csv&from=2024-05-01&limit=10&step=1m&to=2024-05-02T00%3A00%3A00Z"; h.got[0] != want {
		t.Errorf("request: got %s, want %s", h.got[0], want)
	}
	if lines := strings.Count(out, "\n"); lines != 5001 || !strings.HasPrefix(out, "timestamp,_id,field,value,quality\n2024-05-01T00:00:00.000Z,M1,") {
		t.Errorf("output: %d lines, starting %.80q", lines, out)
	}
	if errs != "" {
		t.Errorf("stderr is not a terminal, want no progress: %q", errs)
	}

	// to a file, with progress forced, a selector and the wide form
	file := filepath.Join(t.TempDir(), "out.csv")
	code, out, errs = runExportCLI(t, "export", "--url", srv.URL, "--user", "reader", "--token", "tok", "--layer", "demo", "--collection", "meters",
		"--query", `{"site":"north"}`, "--wide", "--progress", "-o", file)
	if code != ExitOK || out != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
	}
	if want := "/api/v2/history/demo/meters?format=csv&query=%7B%22site%22%3A%22north%22%7D&wide=true"; h.got[1] != want {
		t.Errorf("request: got %s, want %s", h.got[1], want)
	}
	if data, err := os.ReadFile(file); err != nil || strings.Count(string(data), "\n") != 5001 {
		t.Errorf("file: %d lines, %v", strings.Count(string(data), "\n"), err)
	}
	if !strings.Contains(errs, "exported 5000 lines") {
		t.Errorf("progress: got %q, want the final count", errs)
	}

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the hub refuses a parameter", []string{"--layer", "demo", "--collection", "meters", "--step", "1m", "--agg", "median"}, ExitFailure, `hub answered 400: invalid history request: agg "median"`},
		{"no collection", []string{"--layer", "demo"}, ExitUsage, "--layer and --collection are required"},
		{"a selector that is not JSON", []string{"--layer", "demo", "--collection", "meters", "--query", "site=north"}, ExitFailure, `--query "site=north" is not JSON`},
		{"wrong credentials", []string{"--layer", "demo", "--collection", "meters", "--token", "nope"}, ExitFailure, "hub answered 401: credentials required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runExportCLI(t, append([]string{"export", "--user", "reader"}, c.args...)...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, c.code, c.want)
			}
		})
	}

	// a body that breaks off is an error, not a silently short file
	h.cut = true
	code, _, errs = runExportCLI(t, "export", "--user", "reader", "--layer", "demo", "--collection", "meters")
	if code != ExitFailure || !strings.Contains(errs, "broke off after 5000 rows") {
		t.Errorf("cut answer: exit %d, %q", code, errs)
	}
}

// BenchmarkExport: the client's rate and memory on a long answer.
func BenchmarkExport(b *testing.B) {
	h := &csvHub{rows: 1_000_000}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &hubClient{base: srv.URL + "/api/v2", http: srv.Client(), id: "reader", tok: "tok"}
	f := &exportFlags{layer: "demo", collection: "meters"}
	for b.Loop() {
		var n countingWriter
		n.w = discard{}
		st, err := export(context.Background(), c, f, &n, nil, false)
		if err != nil || st.rows != 1_000_000 {
			b.Fatalf("%+v %v", st, err)
		}
		b.ReportMetric(float64(st.rows)/st.took.Seconds(), "rows/s")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
