package forecast

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The seed's three HTTP examples (3.2.2.4.2.2.1–3) and its STH example,
// with their jsonbender mappings rewritten as expression mappings
// (docs/forecast.md shows the same).
func TestHTTPStageSeedExamples(t *testing.T) {
	tests := []struct {
		name     string
		response string
		stage    string
		wantY    []float64
		wantCols []string
	}{
		{
			name:     "FIWARE STH (strptime format)",
			response: `{"contextResponses":[{"contextElement":{"attributes":[{"values":[{"timestamp":" 2020-05-22 10:00:00","temperature":"21.5"},{"timestamp":" 2020-05-22 11:00:00","temperature":"22"}]}]}}]}`,
			stage: `{"request":{"method":"GET","url":"URL","params":{"lastN":1000},"headers":{"Fiware-Service":"FWSVC"}},
				"mapping":{"rows":"contextResponses[0].contextElement.attributes[0].values",
				           "columns":{"ds":"timestamp | trim","y":"temperature | parsefloat"}}}`,
			wantY: []float64{21.5, 22}, wantCols: []string{"y"},
		},
		{
			name:     "X-FLEX platform API with regressors",
			response: `{"data":[{"date":"2020-05-22T10:00:00.000Z","light_consumption":"3.5","clouds":40,"visibility":"10000"}]}`,
			stage: `{"request":{"method":"POST","url":"URL","json":{"selector":{"gateway":"XANTHI-GATEWAY"}}},
				"mapping":{"rows":"data","columns":{"ds":"date","y":"light_consumption | parsefloat","clouds":"clouds","visibility":"visibility | parsefloat"}}}`,
			wantY: []float64{3.5}, wantCols: []string{"clouds", "visibility", "y"},
		},
		{
			name:     "InfluxDB (rows are arrays)",
			response: `{"results":[{"series":[{"values":[["2020-05-22T10:00:00Z",7],["2020-05-22T11:00:00Z",8]]}]}]}`,
			stage: `{"request":{"url":"URL","files":{"q":"SELECT mean(\"req\") FROM \"monitor\" GROUP BY time(1h)"}},
				"mapping":{"rows":"results[0].series[0].values","columns":{"ds":"row[0]","y":"row[1]"}}}`,
			wantY: []float64{7, 8}, wantCols: []string{"y"},
		},
		{
			name:     "Elasticsearch (nested source)",
			response: `{"hits":{"hits":[{"_source":{"timestamp":"2020-05-22T10:00:00Z","consumptionWh":120}}]}}`,
			stage: `{"request":{"url":"URL","params":{"q":"evse:CR1_CENTER_VALENCIA-1"}},
				"mapping":{"rows":"hits.hits","columns":{"ds":"_source.timestamp","y":"_source.consumptionWh"}}}`,
			wantY: []float64{120}, wantCols: []string{"y"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotReq *http.Request
			var gotBody string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				gotReq, gotBody = r, string(b)
				io.WriteString(w, tc.response)
			}))
			defer srv.Close()
			var st HTTPStage
			if err := json.Unmarshal([]byte(strings.Replace(tc.stage, "URL", srv.URL+"/q", 1)), &st); err != nil {
				t.Fatal(err)
			}
			r := &stageRunner{client: srv.Client(), maxRows: 100}
			tab, err := r.run(context.Background(), []InputStage{{HTTP: &st}})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := tab.cols["y"]; len(got) != len(tc.wantY) || got[0] != tc.wantY[0] {
				t.Errorf("y: got %v, want %v", got, tc.wantY)
			}
			if got, want := len(tab.cols), len(tc.wantCols); got != want {
				t.Errorf("columns: got %d (%v), want %v", got, tab.cols, tc.wantCols)
			}
			if got, want := tab.ds[0], time.Date(2020, 5, 22, 10, 0, 0, 0, time.UTC); !got.Equal(want) {
				t.Errorf("ds[0]: got %v, want %v", got, want)
			}
			if st.Request.JSON != nil && !strings.Contains(gotBody, "XANTHI-GATEWAY") {
				t.Errorf("JSON body: got %q", gotBody)
			}
			for k, v := range st.Request.Params {
				if got := gotReq.URL.Query().Get(k); got == "" || !strings.Contains(strings.ReplaceAll(got, " ", ""), strings.ReplaceAll(strings.TrimSpace(toString(v)), " ", "")) {
					t.Errorf("query %s: got %q, want %v", k, got, v)
				}
			}
			if len(st.Request.Files) > 0 && !strings.Contains(gotBody, `name="q"`) {
				t.Errorf("multipart body: got %q", gotBody)
			}
		})
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func TestJsonbenderMappingRefused(t *testing.T) {
	var st HTTPStage
	err := json.Unmarshal([]byte(`{"request":{"url":"http://x"},"mapping":"S('data') >> ForallBend({'y': S('y')})"}`), &st)
	if err == nil || !strings.Contains(err.Error(), "jsonbender") {
		t.Errorf("got %v, want an error explaining jsonbender is not supported", err)
	}
}

func TestInnerJoinOnDS(t *testing.T) {
	ts := func(h int) time.Time { return time.Date(2020, 1, 1, h, 0, 0, 0, time.UTC) }
	a := &table{ds: []time.Time{ts(0), ts(1), ts(2), ts(3)}, cols: map[string][]float64{"y": {10, 11, 12, 13}}}
	b := &table{ds: []time.Time{ts(3), ts(1), ts(5)}, cols: map[string][]float64{"temp": {33, 31, 35}}}
	got, err := innerJoin([]*table{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ds) != 2 || !got.ds[0].Equal(ts(1)) || !got.ds[1].Equal(ts(3)) {
		t.Fatalf("ds: got %v, want hours 1 and 3 (first stage's order)", got.ds)
	}
	if got.cols["y"][1] != 13 || got.cols["temp"][1] != 33 {
		t.Errorf("row 2: got y %v temp %v, want 13 and 33", got.cols["y"][1], got.cols["temp"][1])
	}
	if _, err := innerJoin([]*table{a, a}); err == nil {
		t.Errorf("same column in two stages: got no error")
	}
}
