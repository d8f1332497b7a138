package metrics

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse reads an exposition with Prometheus's own text parser.
func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("the Prometheus text parser refused the exposition: %v", err)
	}
	return fams
}

func TestWriterParses(t *testing.T) {
	h := NewLatencyHist()
	for _, v := range []float64{0.0005, 0.001, 0.003, 0.2, 42} {
		h.Observe(v)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Family("gridedge_test_requests_total", "Requests.\nWith a \\ and a newline.", Counter)
	w.Sample(L("slave", `tcp://10.0.0.5:502#3`), 7)
	w.Sample(L("slave", "quote\" back\\slash\nnewline"), 1)
	w.Family("gridedge_test_depth", "Depth.", Gauge)
	w.Sample(nil, 12.5)
	w.Family("gridedge_test_odd", "Non-finite values.", Gauge)
	w.Sample(L("v", "inf"), math.Inf(1))
	w.Sample(L("v", "nan"), math.NaN())
	w.Family("gridedge_test_latency_seconds", "Latency.", Histogram)
	w.Histogram(L("slave", "a"), h.Snapshot())
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, bytes.NewReader(buf.Bytes()))

	c := fams["gridedge_test_requests_total"]
	if c.GetType() != dto.MetricType_COUNTER || len(c.Metric) != 2 {
		t.Fatalf("counter family = %v", c)
	}
	if got := c.GetHelp(); got != "Requests.\nWith a \\ and a newline." {
		t.Errorf("help = %q", got)
	}
	values := map[string]float64{}
	for _, m := range c.Metric {
		values[m.Label[0].GetValue()] = m.Counter.GetValue()
	}
	if values["tcp://10.0.0.5:502#3"] != 7 || values["quote\" back\\slash\nnewline"] != 1 {
		t.Errorf("counter values by label = %v", values)
	}
	if g := fams["gridedge_test_depth"].Metric[0].Gauge.GetValue(); g != 12.5 {
		t.Errorf("gauge = %v, want 12.5", g)
	}
	odd := fams["gridedge_test_odd"].Metric
	if !math.IsInf(odd[0].Gauge.GetValue(), 1) || !math.IsNaN(odd[1].Gauge.GetValue()) {
		t.Errorf("non-finite gauges = %v, %v", odd[0].Gauge.GetValue(), odd[1].Gauge.GetValue())
	}

	hf := fams["gridedge_test_latency_seconds"]
	if hf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("histogram type = %v", hf.GetType())
	}
	hist := hf.Metric[0].Histogram
	if hist.GetSampleCount() != 5 || math.Abs(hist.GetSampleSum()-42.2045) > 1e-9 {
		t.Errorf("count, sum = %d, %v; want 5, 42.2045", hist.GetSampleCount(), hist.GetSampleSum())
	}
	want := map[float64]uint64{0.001: 2, 0.0025: 2, 0.005: 3, 0.1: 3, 0.25: 4, 10: 4}
	for _, b := range hist.Bucket {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
}

func TestWriterRefuses(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
		want  string
	}{
		{"bad metric name", func(w *Writer) { w.Family("9lives", "x", Gauge) }, "invalid metric name"},
		{"bad label name", func(w *Writer) { w.Family("a", "x", Gauge); w.Sample(L("a-b", "v"), 1) }, "invalid label name"},
		{"reserved label name", func(w *Writer) { w.Family("a", "x", Gauge); w.Sample(L("__name__", "v"), 1) }, "invalid label name"},
		{"family twice", func(w *Writer) { w.Family("a", "x", Gauge); w.Family("a", "x", Gauge) }, "written twice"},
		{"sample before family", func(w *Writer) { w.Sample(nil, 1) }, "outside a counter or gauge family"},
		{"histogram in gauge", func(w *Writer) {
			w.Family("a", "x", Gauge)
			w.Histogram(nil, NewLatencyHist().Snapshot())
		}, "outside a histogram family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(io.Discard)
			tt.write(w)
			if err := w.Flush(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewHistRefusesBadBounds(t *testing.T) {
	for _, bounds := range [][]float64{nil, {1, 1}, {2, 1}, {1, math.Inf(1)}, {math.NaN()}} {
		if _, err := NewHist(bounds); err == nil {
			t.Errorf("NewHist(%v) accepted", bounds)
		}
	}
}

func TestHistConcurrent(t *testing.T) {
	h, err := NewHist([]float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				h.Observe(float64(i % 3)) // 0, 1, 2
				_ = h.Snapshot()
			}
		}()
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Count != 8000 || s.Counts[0] != 5336 || s.Counts[1] != 2664 || s.Sum != 8*(333*1+333*2) {
		t.Errorf("snapshot = %+v; want count 8000, buckets [5336 2664], sum %d", s, 8*(333+666))
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(func(w *Writer) {
		w.Family("gridedge_up", "Up.", Gauge)
		w.Sample(nil, 1)
	}, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, ContentType)
	}
	if f := parse(t, resp.Body)["gridedge_up"]; f == nil || f.Metric[0].Gauge.GetValue() != 1 {
		t.Errorf("gridedge_up = %v", f)
	}
	resp, err = http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp.StatusCode)
	}

	bad := httptest.NewServer(Handler(func(w *Writer) { w.Family("bad name", "x", Gauge) }, nil))
	defer bad.Close()
	resp, err = http.Get(bad.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status with a collector error = %d, want 500", resp.StatusCode)
	}
}
