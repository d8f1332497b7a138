package forecast

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/convert"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

// TestHTTPStageConverter: an http stage's response goes through the
// stored data-model converter its converter names (a real registry on a
// bolt store, JavaScript in goja) before the mapping reads it; a stage
// without the converters service, an unknown converter, a failing one and
// a response that is not an object are clear errors.
func TestHTTPStageConverter(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := convert.Config{Enabled: true}
	cfg.Defaults()
	reg := convert.NewRegistry(st, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if err := reg.EnsureCollection(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := st.Insert(ctx, reg.Layer(), reg.Collection(), []store.Document{
		// milliseconds and Wh from a meter API become ISO dates and kWh
		{"_id": "meter-to-rows", "code": "(d) => ({rows: d.readings.map(r => ({t: new Date(r.ts).toISOString(), kwh: r.wh / 1000, n: r.n}))})"},
		{"_id": "throws", "code": "(d) => { throw new Error('no readings here'); }"},
	})
	if err != nil || res.Err > 0 {
		t.Fatalf("store the transformations: %v %v", err, res.Errors)
	}
	response := `{"readings":[{"ts":1590141600000,"wh":3500,"n":1},{"ts":1590145200000,"wh":4250,"n":2}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("shape") == "array" {
			io.WriteString(w, `[1,2]`)
			return
		}
		io.WriteString(w, response)
	}))
	defer srv.Close()
	stage := func(conv, query string) InputStage {
		return InputStage{HTTP: &HTTPStage{Request: HTTPRequest{URL: srv.URL + query}, Converter: conv,
			Mapping: Mapping{Rows: "rows", Columns: map[string]string{"ds": "t", "y": "kwh", "n": "n"}}}}
	}
	r := &stageRunner{client: srv.Client(), maxRows: 100, converters: reg}
	tab, err := r.run(ctx, []InputStage{stage("meter-to-rows", "")})
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.cols["y"]; len(got) != 2 || got[0] != 3.5 || got[1] != 4.25 {
		t.Errorf("y: got %v, want [3.5 4.25] (kWh from the converter)", got)
	}
	if got := tab.cols["n"]; len(got) != 2 || got[1] != 2 {
		t.Errorf("n (an integer from the engine): got %v, want [1 2]", got)
	}
	if len(tab.ds) != 2 || tab.ds[0].UTC().Format("2006-01-02T15:04Z") != "2020-05-22T10:00Z" {
		t.Errorf("ds: got %v, want 2020-05-22T10:00Z first", tab.ds)
	}

	tests := []struct {
		name   string
		runner *stageRunner
		stage  InputStage
		is     error
		says   string
	}{
		{"no converters service", &stageRunner{client: srv.Client(), maxRows: 100}, stage("meter-to-rows", ""), ErrInvalid, "services.converters.enabled"},
		{"unknown converter", r, stage("nope", ""), ErrStage, `converter "nope"`},
		{"converter throws", r, stage("throws", ""), ErrStage, "no readings here"},
		{"response is an array", r, stage("meter-to-rows", "?shape=array"), ErrStage, "takes a JSON object; the response is an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.runner.run(ctx, []InputStage{tt.stage})
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("got %v, want %v saying %q", err, tt.is, tt.says)
			}
		})
	}
}
