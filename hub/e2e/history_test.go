package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// historyPollCounts returns M1's pollCount values from the REST history
// (JSON) between from and to.
func (s *stack) historyPollCounts(t *testing.T, from, to time.Time) []int {
	t.Helper()
	var resp struct {
		Status string `json:"status"`
		Data   []struct {
			ID     string  `json:"_id"`
			Field  string  `json:"field"`
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	code, err := s.get("/api/v2/history/site/meters/M1?"+historyParams(from, to, ""), &resp)
	if err != nil || code != 200 || resp.Status != "success" {
		t.Fatalf("GET history: %d, %v, %+v", code, err, resp)
	}
	if len(resp.Data) != 1 || resp.Data[0].ID != "M1" || resp.Data[0].Field != "measurements.pollCount" {
		t.Fatalf("history series: %+v, want M1 measurements.pollCount", resp.Data)
	}
	var out []int
	for _, p := range resp.Data[0].Points {
		if q, _ := p[2].(float64); q != 1 {
			continue
		}
		v, ok := p[1].(float64)
		if !ok {
			t.Fatalf("point %v has no number", p)
		}
		out = append(out, int(v))
	}
	return out
}

// historyAllPollCounts returns M1's pollCount values from the REST history
// between from and to, whatever their quality, and how many points are not
// good (failed polls).
func (s *stack) historyAllPollCounts(t *testing.T, from, to time.Time) (map[int]bool, int) {
	t.Helper()
	var resp struct {
		Data []struct {
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	code, err := s.get("/api/v2/history/site/meters/M1?"+historyParams(from, to, ""), &resp)
	if err != nil || code != 200 {
		t.Fatalf("GET history: %d, %v", code, err)
	}
	out, notGood := map[int]bool{}, 0
	for _, se := range resp.Data {
		for _, p := range se.Points {
			if q, _ := p[2].(float64); q != 1 {
				notGood++
			}
			if v, ok := p[1].(float64); ok {
				out[int(v)] = true
			}
		}
	}
	return out, notGood
}

// documentSampler records the pollCount values that M1's document holds,
// read every 20 ms until stopped: readings the store accepted.
type documentSampler struct {
	mu     sync.Mutex
	seen   map[int]bool
	cancel context.CancelFunc
	done   chan struct{}
}

func sampleDocument(s *stack) *documentSampler {
	ctx, cancel := context.WithCancel(context.Background())
	ds := &documentSampler{seen: map[int]bool{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ds.done)
		for ctx.Err() == nil {
			if v, err := s.measurement("meters", "M1", "pollCount"); err == nil {
				if f, ok := v.(float64); ok {
					ds.mu.Lock()
					ds.seen[int(f)] = true
					ds.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return ds
}

// stop ends the sampling and returns the values seen, sorted.
func (ds *documentSampler) stop() []int {
	ds.cancel()
	<-ds.done
	ds.mu.Lock()
	defer ds.mu.Unlock()
	return slices.Sorted(maps.Keys(ds.seen))
}

func historyParams(from, to time.Time, format string) string {
	v := url.Values{"fields": {"measurements.pollCount"}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	if format != "" {
		v.Set("format", format)
	}
	return v.Encode()
}

// measurementTime returns the timestamp of a measurement of a document of
// layer site (false when it has none).
func (s *stack) measurementTime(col, id, name string) (time.Time, bool) {
	var resp struct {
		Data struct {
			Measurements map[string]struct {
				Timestamp any `json:"timestamp"`
			} `json:"measurements"`
		} `json:"data"`
	}
	if code, err := s.get("/api/v2/site/"+col+"/"+id, &resp); err != nil || code != 200 {
		return time.Time{}, false
	}
	m, ok := resp.Data.Measurements[name]
	if !ok {
		return time.Time{}, false
	}
	return pointTime(m.Timestamp)
}

// historyCSV returns the REST history of M1's pollCount as CSV.
func (s *stack) historyCSV(t *testing.T, from, to time.Time) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url("/api/v2/history/site/meters/M1?"+historyParams(from, to, "csv")), nil)
	for k, v := range s.auth {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET history CSV: %d %s, %v: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
	}
	return string(body)
}

// csvPollCounts reads the values of good rows of a long-form history CSV.
func csvPollCounts(t *testing.T, text string) []int {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("history CSV: %v", err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "timestamp,_id,field,value,quality" {
		t.Fatalf("history CSV header: %v", rows)
	}
	var out []int
	for _, r := range rows[1:] {
		if r[1] != "M1" || r[2] != "measurements.pollCount" {
			t.Fatalf("CSV row %v, want M1 measurements.pollCount", r)
		}
		if r[4] != "1" {
			continue
		}
		v, err := strconv.ParseFloat(r[3], 64)
		if err != nil {
			t.Fatalf("CSV row %v: %v", r, err)
		}
		out = append(out, int(v))
	}
	return out
}

// Readings flow from the simulator through the agent into the hub's
// history; the hub is stopped while the agent keeps polling (its buffer
// holds the backlog) and restarted: the replayed readings are accepted and
// the REST history (JSON and CSV) and `gridedge export` return every
// reading, without gaps or duplicates. Every value seen in the document
// meanwhile is in the history (a reading the store accepted is never
// missing from the history, whatever the timing of the stop).
func TestHistoryEndToEnd(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: 0.1})
	from := time.Now().Add(-time.Minute)
	docs := sampleDocument(s)
	pollCount := func() int {
		v, _ := s.measurement("meters", "M1", "pollCount")
		f, _ := v.(float64)
		return int(f)
	}
	eventually(t, 60*time.Second, 50*time.Millisecond, "30 readings at the hub", func() bool { return pollCount() >= 30 })
	live := s.historyPollCounts(t, from, time.Now())
	checkExactlyOnce(t, live, timeoutSlack)

	// the backlog: the hub is down for 3 s, the agent polls on
	before := pollCount()
	s.hub.stop(t)
	time.Sleep(3 * time.Second)
	s.restartHub(t)
	restarted := time.Now()
	eventually(t, 60*time.Second, 50*time.Millisecond, "the hub's REST API after the restart", func() bool {
		var v map[string]any
		code, err := getJSON(s.url("/api/v2/health"), &v)
		return err == nil && code == 200
	})
	// everything polled during the outage, and some more, has arrived
	target := before + 40
	eventually(t, 60*time.Second, 50*time.Millisecond, "the readings polled during the outage", func() bool { return pollCount() >= target })
	// the documents can be ahead of a history query made at once: wait
	// (bounded) until the history holds the outage's readings too
	var (
		vals     []int
		replayed int
		to       time.Time
	)
	eventually(t, 30*time.Second, 100*time.Millisecond, "the outage's readings in the history", func() bool {
		to = time.Now()
		vals = s.historyPollCounts(t, from, to)
		replayed = 0
		for _, v := range vals {
			if v > before && v <= before+30 {
				replayed++
			}
		}
		return replayed >= 30-timeoutSlack
	})
	drained := time.Since(restarted)
	// readings polled just before "to" may still be on their way: once the
	// document holds a later one, every reading up to "to" is in the
	// history (batches are applied in order, history before documents),
	// and the JSON, the CSV and the export below see the same window
	eventually(t, 30*time.Second, 100*time.Millisecond, "a reading polled after the queried window in the document", func() bool {
		ts, ok := s.measurementTime("meters", "M1", "pollCount")
		return ok && ts.After(to)
	})
	vals = s.historyPollCounts(t, from, to)
	missing := checkExactlyOnce(t, vals, timeoutSlack)
	// the history was queried after the documents were read: each value
	// the documents held is in it
	seen := docs.stop()
	inHistory, failedPolls := s.historyAllPollCounts(t, from, time.Now())
	var gaps []int
	for i := 1; i < len(vals); i++ {
		for v := vals[i-1] + 1; v < vals[i]; v++ {
			gaps = append(gaps, v)
		}
	}
	// whether the edge's updates all reached the store since the restart
	// (the counters are the restarted hub's): a gap in its sequence
	// numbers, a dead letter or a sample the history refused would show
	fams, err := scrapeMetrics(t, s.url("/metrics"), s.auth)
	if err != nil {
		t.Fatal(err)
	}
	seqMissing := metricSum(fams, "gridedge_hub_ingest_updates_missing_total", "edge", "edge1")
	dead := metricSum(fams, "gridedge_hub_ingest_dead_letters_total", "edge", "edge1")
	refused := metricSum(fams, "gridedge_hub_history_points_refused_total", "", "")
	t.Logf("pollCount values missing: %d %v (points of failed polls in the history: %d); since the restart the hub saw %v sequence numbers missing, %v dead letters, %v samples refused by the history",
		missing, gaps, failedPolls, seqMissing, dead, refused)
	if seqMissing != 0 || dead != 0 || refused != 0 {
		t.Errorf("edge1's updates did not all reach the store and the history: %v sequence numbers missing, %v dead letters, %v samples refused", seqMissing, dead, refused)
	}
	var lost []int
	for _, v := range seen {
		if !inHistory[v] {
			lost = append(lost, v)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of the %d pollCount values seen in the document are not in the history: %v", len(lost), len(seen), lost)
	} else {
		t.Logf("%d pollCount values seen in the document during the run, all in the history", len(seen))
	}
	if replayed < 30-timeoutSlack {
		t.Errorf("readings of the outage in the history: %d, want about 30", replayed)
	}
	t.Logf("backlog: %d readings polled during a 3 s outage queryable %v after the hub restarted (%.0f readings/s incl. the hub's start)",
		replayed, drained.Round(time.Millisecond), float64(replayed)/drained.Seconds())

	// CSV: the same readings
	text := s.historyCSV(t, from, to)
	if got := csvPollCounts(t, text); fmt.Sprint(got) != fmt.Sprint(vals) {
		t.Fatalf("CSV history differs from the JSON history:\n csv  %v\n json %v", got, vals)
	}

	// gridedge export against the real hub gives the same file
	cmd := exec.Command(filepath.Join(binaries(t), "gridedge"), "export", "--url", s.url(""), "--user", s.auth["X-User-ID"], "--token", s.auth["X-Auth-Token"],
		"--layer", "site", "--collection", "meters", "--id", "M1", "--fields", "measurements.pollCount",
		"--from", from.UTC().Format(time.RFC3339Nano), "--to", to.UTC().Format(time.RFC3339Nano))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gridedge export: %v: %s", err, stderr.String())
	}
	if string(out) != text {
		t.Fatalf("gridedge export differs from GET …?format=csv:\n export %.300q\n rest   %.300q", out, text)
	}
}
