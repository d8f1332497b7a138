package api

import (
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/history"
)

func newHistoryEnv(t *testing.T) *env {
	t.Helper()
	db, err := history.OpenTSDB(history.TSDBOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newEnv(t, func(s *Server) {
		s.History = db
		s.Store = history.NewRecorder(s.Store, db, nil)
	})
}

func TestHistoryAPI(t *testing.T) {
	e := newHistoryEnv(t)
	// a REST write of a measurement with its own timestamp goes into the history
	e.must("POST", "/demo/meters", map[string]any{"_id": "M1", "name": "feeder",
		"measurements": map[string]any{"voltage": map[string]any{"value": 230.5, "quality": 1, "timestamp": "2024-05-01T10:00:00Z"}}}, e.admin)
	imp := map[string]any{
		"measurements.voltage": []any{[]any{"2024-05-01T10:00:01Z", 231.0}, []any{1714557602000.0, 232.0, 2}},
		"measurements.mode":    []any{[]any{"2024-05-01T10:00:00Z", "COLD"}, []any{"2024-05-01T10:00:01Z", "COLD"}},
	}
	for range 2 { // idempotent
		e.must("POST", "/history/demo/meters/M1", imp, e.admin)
	}
	e.must("POST", "/demo/meters", map[string]any{"_id": "M2", "name": "other",
		"measurements": map[string]any{"voltage": map[string]any{"value": 7, "quality": 1, "timestamp": "2024-05-01T10:00:00Z"}}}, e.admin)

	rng := "from=2024-05-01T00:00:00Z&to=2024-05-02"
	tests := []struct {
		name, path string
		want       any
	}{
		{"one document", "/history/demo/meters/M1?" + rng, []any{
			map[string]any{"_id": "M1", "field": "measurements.mode", "points": []any{[]any{"2024-05-01T10:00:00.000Z", "COLD", 1}}},
			map[string]any{"_id": "M1", "field": "measurements.voltage", "points": []any{
				[]any{"2024-05-01T10:00:00.000Z", 230.5, 1}, []any{"2024-05-01T10:00:01.000Z", 231, 1}, []any{"2024-05-01T10:00:02.000Z", 232, 2}}},
		}},
		{"fields, step, agg", "/history/demo/meters/M1?" + rng + "&fields=measurements.voltage&step=1m&agg=max", []any{
			map[string]any{"_id": "M1", "field": "measurements.voltage", "points": []any{[]any{"2024-05-01T10:00:00.000Z", 232, 2}}},
		}},
		{"limit, ms", "/history/demo/meters/M1?from=1714557600000&to=1714557700000&fields=measurements.voltage&limit=1", []any{
			map[string]any{"_id": "M1", "field": "measurements.voltage", "points": []any{[]any{"2024-05-01T10:00:00.000Z", 230.5, 1}}},
		}},
		{"many by selector", "/history/demo/meters?" + rng + "&fields=measurements.voltage&step=1h&agg=count&query=" + `{"name":"other"}`, []any{
			map[string]any{"_id": "M2", "field": "measurements.voltage", "points": []any{[]any{"2024-05-01T10:00:00.000Z", 1, 1}}},
		}},
		{"selector matching nothing", "/history/demo/meters?" + rng + "&query=" + `{"name":"none"}`, []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.must("GET", tt.path, nil, e.admin)
			jsonEq(t, tt.path, got["data"], tt.want)
		})
	}

	t.Run("csv", func(t *testing.T) {
		code, body, h := e.send(e.request("GET", "/history/demo/meters?"+rng+"&format=csv&fields=measurements.voltage", nil, e.admin))
		want := "timestamp,_id,field,value,quality\n" +
			"2024-05-01T10:00:00.000Z,M1,measurements.voltage,230.5,1\n" +
			"2024-05-01T10:00:01.000Z,M1,measurements.voltage,231,1\n" +
			"2024-05-01T10:00:02.000Z,M1,measurements.voltage,232,2\n" +
			"2024-05-01T10:00:00.000Z,M2,measurements.voltage,7,1\n"
		if code != 200 || string(body) != want || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			t.Errorf("got %d %q (%s), want 200 %q", code, body, h.Get("Content-Type"), want)
		}
	})
	t.Run("wide csv", func(t *testing.T) {
		_, body, _ := e.send(e.request("GET", "/history/demo/meters/M1?"+rng+"&format=csv&wide=true", nil, e.admin))
		want := "timestamp,_id,measurements.mode,measurements.voltage,measurements.mode_quality,measurements.voltage_quality\n" +
			"2024-05-01T10:00:00.000Z,M1,COLD,230.5,1,1\n" +
			"2024-05-01T10:00:01.000Z,M1,,231,,1\n" +
			"2024-05-01T10:00:02.000Z,M1,,232,,2\n"
		if string(body) != want {
			t.Errorf("got %q, want %q", body, want)
		}
	})

	reader := e.addUser("reader", map[string]auth.Perm{"demo": auth.Read})
	e.must("GET", "/history/demo/meters/M1?"+rng, nil, reader)
	e.wantError("POST", "/history/demo/meters/M1", imp, reader, 403, "needs")
	stranger := e.addUser("stranger", map[string]auth.Perm{"other": auth.Read})
	e.wantError("GET", "/history/demo/meters/M1?"+rng, nil, stranger, 403, "no grant")
	e.wantError("GET", "/history/demo/meters/M1", nil, noCred, 401, "credentials")
	e.wantError("GET", "/history/demo/meters/M1?step=fortnight", nil, e.admin, 400, "step")
	e.wantError("GET", "/history/demo/meters/M1?agg=median", nil, e.admin, 400, "agg")
	e.wantError("GET", "/history/demo/meters/M1?from=2024-05-02&to=2024-05-01", nil, e.admin, 400, "before")
	e.wantError("POST", "/history/demo/meters/M1", map[string]any{"measurements.v": []any{[]any{"yesterday", 1}}}, e.admin, 400, "RFC 3339")
}
