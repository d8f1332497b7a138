package e2e

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

func historyParams(from, to time.Time, format string) string {
	v := url.Values{"fields": {"measurements.pollCount"}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	if format != "" {
		v.Set("format", format)
	}
	return v.Encode()
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
// reading, without gaps or duplicates.
func TestHistoryEndToEnd(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: 0.1})
	from := time.Now().Add(-time.Minute)
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
	checkExactlyOnce(t, vals, timeoutSlack)
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
