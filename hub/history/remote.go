package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	promModel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// RemoteOptions configure the remote backend.
type RemoteOptions struct {
	// WriteURL is the remote-write endpoint.
	WriteURL string
	// ReadURL is the base URL of the Prometheus HTTP query API.
	ReadURL string
	// Client makes the requests (default: a client with a 30 s timeout).
	Client *http.Client
	// Logger receives events.
	Logger *slog.Logger
}

// Remote keeps history in an engine that takes Prometheus remote-write
// (protobuf, snappy) and answers the Prometheus HTTP query API:
// VictoriaMetrics, Mimir, Thanos Receive, Prometheus. Series are named as
// in the embedded engine. Reads fetch the raw samples of a document with a
// range selector (/api/v1/query) and aggregate steps here, so that both
// backends answer alike; /api/v1/series lists documents and fields. String
// states are written on change as seen since the hub started. A point
// written again (the recorder appends an edge batch's points before its
// commit, so a retried or redelivered batch writes them again) is read
// once, even from an engine that keeps identical duplicates
// (VictoriaMetrics without -dedup.minScrapeInterval).
type Remote struct {
	o      RemoteOptions
	mu     sync.Mutex
	states map[string]stateMark

	written, unchanged, refused atomic.Uint64
}

var _ Store = (*Remote)(nil)

// OpenRemote returns the remote backend (it connects on first use).
func OpenRemote(o RemoteOptions) (*Remote, error) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, u := range []string{o.WriteURL, o.ReadURL} {
		if _, err := url.Parse(u); err != nil || u == "" {
			return nil, errorf(ErrInvalid, "remote history URL %q: %v", u, err)
		}
	}
	o.ReadURL = strings.TrimSuffix(o.ReadURL, "/")
	return &Remote{o: o, states: map[string]stateMark{}}, nil
}

// Close releases nothing: every write is sent when appended.
func (r *Remote) Close() error { return nil }

// Stats returns the counters.
func (r *Remote) Stats() Stats {
	return Stats{Written: r.written.Load(), Unchanged: r.unchanged.Load(), Refused: r.refused.Load()}
}

func promLabels(metric string, sm *Sample, state string) []prompb.Label {
	ls := []prompb.Label{{Name: promModel.MetricNameLabel, Value: metric}, {Name: LabelCollection, Value: sm.Collection},
		{Name: LabelField, Value: sm.Field}, {Name: LabelID, Value: sm.ID}, {Name: LabelLayer, Value: sm.Layer}}
	if metric == MetricState {
		ls = append(ls, prompb.Label{Name: LabelState, Value: state})
	}
	return ls
}

// Append sends the samples in one remote-write request.
func (r *Remote) Append(ctx context.Context, samples []Sample) (AppendResult, error) {
	var res AppendResult
	series := map[string]*prompb.TimeSeries{}
	var order []string
	add := func(metric string, sm *Sample, state string, t int64, v float64) {
		k := seriesKey(metric, sm, state)
		ts := series[k]
		if ts == nil {
			ts = &prompb.TimeSeries{Labels: promLabels(metric, sm, state)}
			series[k] = ts
			order = append(order, k)
		}
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t, Value: v})
	}
	r.mu.Lock()
	newStates := map[string]stateMark{}
	for i := range samples {
		sm := &samples[i]
		if sm.Layer == "" || sm.Collection == "" || sm.ID == "" || sm.Field == "" {
			r.mu.Unlock()
			return AppendResult{}, errorf(ErrInvalid, "sample %d: layer, collection, id and field are required", i)
		}
		t := sm.T.UnixMilli()
		v, str, kind := numeric(sm.Value)
		switch kind {
		case sampleUnsupported:
			continue
		case sampleString:
			fk := seriesKey(MetricState, sm, "")
			last, known := newStates[fk]
			if !known {
				last, known = r.states[fk]
			}
			if known && t > last.t && last.state == str && last.q == sm.Quality {
				res.Unchanged++
				continue
			}
			add(MetricState, sm, str, t, float64(sm.Quality))
			if !known || t > last.t {
				newStates[fk] = stateMark{t: t, state: str, q: sm.Quality}
			}
		case sampleNull:
			add(MetricQuality, sm, "", t, float64(sm.Quality))
		default:
			add(MetricValue, sm, "", t, v)
			add(MetricQuality, sm, "", t, float64(sm.Quality))
		}
		res.Written++
	}
	r.mu.Unlock()
	if len(order) == 0 {
		r.unchanged.Add(uint64(res.Unchanged))
		return res, nil
	}
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, len(order))}
	for _, k := range order {
		slices.SortFunc(series[k].Samples, func(a, b prompb.Sample) int { return int(a.Timestamp - b.Timestamp) })
		req.Timeseries = append(req.Timeseries, *series[k])
	}
	data, err := req.Marshal()
	if err != nil {
		return AppendResult{}, fmt.Errorf("history: encode remote write: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.WriteURL, bytes.NewReader(snappy.Encode(nil, data)))
	if err != nil {
		return AppendResult{}, fmt.Errorf("history: remote write: %w", err)
	}
	hr.Header.Set("Content-Encoding", "snappy")
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := r.o.Client.Do(hr)
	if err != nil {
		return AppendResult{}, fmt.Errorf("history: remote write to %s: %w", r.o.WriteURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
	case resp.StatusCode == http.StatusBadRequest:
		// the remote refuses the request as a whole (too old, out of order)
		res.Refused, res.Written = res.Written, 0
		res.FirstRefusal = fmt.Sprintf("remote write: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	default:
		return AppendResult{}, fmt.Errorf("history: remote write to %s: %s: %s", r.o.WriteURL, resp.Status, strings.TrimSpace(string(body)))
	}
	if res.Written > 0 {
		r.mu.Lock()
		for k, m := range newStates {
			r.states[k] = m
		}
		r.mu.Unlock()
	}
	r.written.Add(uint64(res.Written))
	r.unchanged.Add(uint64(res.Unchanged))
	r.refused.Add(uint64(res.Refused))
	return res, nil
}

// promResponse is the query API's envelope.
type promResponse struct {
	Status string          `json:"status"`
	Error  string          `json:"error"`
	Data   json.RawMessage `json:"data"`
}

func (r *Remote) get(ctx context.Context, path string, params url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.ReadURL+path, strings.NewReader(params.Encode()))
	if err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("history: %s%s: %w", r.o.ReadURL, path, err)
	}
	defer resp.Body.Close()
	var pr promResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return fmt.Errorf("history: %s%s: %s: %w", r.o.ReadURL, path, resp.Status, err)
	}
	if pr.Status != "success" {
		return fmt.Errorf("history: %s%s: %s: %s", r.o.ReadURL, path, resp.Status, pr.Error)
	}
	return json.Unmarshal(pr.Data, out)
}

func selector(layer, col string, ids, fields []string) string {
	var b strings.Builder
	b.WriteString(`{` + LabelLayer + `=` + strconv.Quote(layer) + `,` + LabelCollection + `=` + strconv.Quote(col))
	for _, f := range []struct {
		name string
		vals []string
	}{{LabelID, ids}, {LabelField, fields}} {
		if m, _ := oneOf(f.name, f.vals); m != nil {
			b.WriteString("," + m.String())
		}
	}
	b.WriteString(`}`)
	return b.String()
}

func promTime(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) }

// series lists label sets matching sel within [mint, maxt].
func (r *Remote) series(ctx context.Context, sel string, mint, maxt int64) ([]map[string]string, error) {
	var out []map[string]string
	err := r.get(ctx, "/api/v1/series", url.Values{"match[]": {sel}, "start": {promTime(mint)}, "end": {promTime(maxt)}}, &out)
	return out, err
}

func remoteBounds(q *Query) (int64, int64) {
	mint, maxt := bounds(q)
	if mint == math.MinInt64 {
		mint = 0
	}
	if maxt == math.MaxInt64 {
		maxt = time.Now().UnixMilli()
	}
	return mint, maxt
}

// Fields returns the fields with history of one document.
func (r *Remote) Fields(ctx context.Context, layer, col, id string, from, to time.Time) ([]string, error) {
	mint, maxt := remoteBounds(&Query{From: from, To: to})
	ls, err := r.series(ctx, selector(layer, col, []string{id}, nil), mint, maxt)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls {
		out = append(out, l[LabelField])
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// fsample is one float sample of a fetched series.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }

// Select streams the series of q, one document at a time.
func (r *Remote) Select(ctx context.Context, q Query, fn func(Series) error) error {
	if err := CheckQuery(&q); err != nil {
		return err
	}
	mint, maxt := remoteBounds(&q)
	ids := q.IDs
	if len(ids) == 0 {
		ls, err := r.series(ctx, selector(q.Layer, q.Collection, nil, q.Fields), mint, maxt)
		if err != nil {
			return err
		}
		for _, l := range ls {
			ids = append(ids, l[LabelID])
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	for _, id := range ids {
		var data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		}
		expr := selector(q.Layer, q.Collection, []string{id}, q.Fields) + "[" + strconv.FormatInt(maxt-mint+1, 10) + "ms]"
		if err := r.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {promTime(maxt)}}, &data); err != nil {
			return err
		}
		byField := map[string]*fieldSeries{}
		for _, m := range data.Result {
			f := m.Metric[LabelField]
			fs := byField[f]
			if fs == nil {
				fs = &fieldSeries{}
				byField[f] = fs
			}
			ss := make([]chunks.Sample, 0, len(m.Values))
			for _, v := range m.Values {
				ts, _ := v[0].(float64)
				s, _ := v[1].(string)
				val, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fmt.Errorf("history: remote sample %q of %s: %w", s, id, err)
				}
				t := int64(math.Round(ts * 1000))
				if n := len(ss); n > 0 && ss[n-1].T() == t {
					// the same point written again (an edge batch whose
					// commit was retried): VictoriaMetrics without
					// -dedup.minScrapeInterval keeps every copy; the
					// first one counts, as in the embedded engine
					continue
				}
				ss = append(ss, fsample{t: t, f: val})
			}
			sr := storage.NewListSeries(labels.FromMap(m.Metric), ss)
			switch m.Metric[promModel.MetricNameLabel] {
			case MetricValue:
				fs.values = append(fs.values, sr)
			case MetricQuality:
				fs.quality = sr
			case MetricState:
				fs.states = append(fs.states, sr)
			}
		}
		fields := make([]string, 0, len(byField))
		for f := range byField {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		for _, f := range fields {
			var iterErr error
			pts := rawPoints(byField[f], mint, maxt, &iterErr)
			if q.Step > 0 {
				pts = aggregate(pts, q.Step.Milliseconds(), q.Agg)
			}
			if q.Limit > 0 {
				pts = limit(pts, q.Limit)
			}
			if err := fn(Series{ID: id, Field: f, Points: pts}); err != nil {
				return err
			}
			if iterErr != nil {
				return fmt.Errorf("history: read %s %s: %w", id, f, iterErr)
			}
		}
	}
	return nil
}
