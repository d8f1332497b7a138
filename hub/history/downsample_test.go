package history

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// dsWindow is the out-of-order window of the downsampling tests.
const dsWindow = 24 * time.Hour

var dsLevels = []DownsampleLevel{
	{Resolution: config.Duration(5 * time.Minute)},
	{Resolution: config.Duration(time.Hour)},
}

func openDS(t *testing.T, dir string, retention time.Duration) *TSDB {
	t.Helper()
	db, err := OpenTSDB(TSDBOptions{Dir: dir, OutOfOrderWindow: dsWindow, Retention: retention, Downsample: dsLevels, DownsampleEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dsData writes four days of history ending now into db: numbers every
// 10 s with gaps, bad qualities and late points appended afterwards; a
// field mixing numbers and states; states alone; nulls with qualities.
// It returns the start.
func dsData(t *testing.T, db *TSDB) time.Time {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	start := now.Add(-4 * 24 * time.Hour).Truncate(time.Hour).Add(-7*time.Minute - 13*time.Second)
	rng := rand.New(rand.NewPCG(3, 4))
	var batch, late []Sample
	add := func(s Sample, isLate bool) {
		if isLate {
			late = append(late, s)
		} else {
			batch = append(batch, s)
		}
	}
	flush := func(b []Sample) {
		if _, err := db.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for ts := start; ts.Before(now); ts = ts.Add(10 * time.Second) {
		i := int(ts.Sub(start) / (10 * time.Second))
		hour := int(ts.Sub(start) / time.Hour)
		isLate := i%17 == 0 // appended after the rest: out of order
		for _, id := range []string{"M1", "M2"} {
			sm := func(field string, v any, q int) Sample {
				return Sample{Layer: "demo", Collection: "meters", ID: id, Field: field, T: ts, Value: v, Quality: q}
			}
			if hour%7 != 3 { // gaps: every 7th hour has no voltage
				q := 1
				if rng.IntN(40) == 0 {
					q = 3 + rng.IntN(3)
				}
				add(sm("measurements.voltage", math.Round((230+5*math.Sin(float64(i)/300)+rng.NormFloat64())*10)/10, q), isLate)
			}
			switch {
			case i%90 == 0:
				add(sm("measurements.mix", []string{"COLD", "WARM"}[rng.IntN(2)], 1+rng.IntN(2)*3), isLate)
			case i%3 == 0:
				add(sm("measurements.mix", float64(rng.IntN(5)), 1), isLate)
			}
			if i%360 == 0 {
				add(sm("measurements.state", []string{"ON", "OFF", "FAULT"}[rng.IntN(3)], 1), isLate)
			}
			if i%50 == 0 {
				add(sm("measurements.null", nil, []int{1, 4}[rng.IntN(2)]), isLate)
			}
		}
		if len(batch) > 5000 {
			flush(batch)
			batch = batch[:0]
		}
	}
	flush(batch)
	flush(late)
	return start
}

// pointsOf returns the points of every series of q, by "id field".
func pointsOf(t *testing.T, sel func(context.Context, Query, func(Series) error) error, q Query) map[string][]Point {
	t.Helper()
	out := map[string][]Point{}
	err := sel(context.Background(), q, func(s Series) error {
		var pts []Point
		for p := range s.Points {
			pts = append(pts, p)
		}
		out[s.ID+" "+s.Field] = pts
		return nil
	})
	if err != nil {
		t.Fatalf("select %+v: %v", q, err)
	}
	return out
}

// samePoints reports the first difference of got from want (sums and
// averages of other groupings differ in the last bits).
func samePoints(got, want map[string][]Point) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d series, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return "no series " + k
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s: %d points, want %d", k, len(g), len(w))
		}
		for i := range w {
			a, b := g[i], w[i]
			if a.T != b.T || a.Kind != b.Kind || a.S != b.S || a.Q != b.Q ||
				math.Abs(a.V-b.V) > 1e-9*math.Max(1, math.Abs(b.V)) {
				return fmt.Sprintf("%s point %d: %+v, want %+v", k, i, a, b)
			}
		}
	}
	return ""
}

func TestDownsampleAnswersAsRaw(t *testing.T) {
	dir := t.TempDir()
	db := openDS(t, dir, 0)
	start := dsData(t, db)
	ctx := context.Background()
	r, err := db.Downsample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Periods == 0 || r.Blocks == 0 || r.Points == 0 {
		t.Fatalf("Downsample wrote nothing: %+v", r)
	}
	wm := db.Watermarks()
	if wm[time.Hour].IsZero() || wm[5*time.Minute].Before(wm[time.Hour]) {
		t.Fatalf("watermarks %v", wm)
	}
	if lim := time.UnixMilli(db.closedBefore(time.Now())); wm[time.Hour].After(lim) {
		t.Fatalf("watermark %v after the closed limit %v", wm[time.Hour], lim)
	}
	// a late point within the window lands after the watermark (raw
	// answers it); one before the watermark is refused by the engine
	for _, c := range []struct {
		at      time.Time
		refused int
	}{{time.UnixMilli(db.closedBefore(time.Now())).Add(time.Minute), 0}, {wm[5*time.Minute].Add(-90 * time.Second), 1}} {
		res, err := db.Append(ctx, []Sample{{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.late", T: c.at, Value: 7.5, Quality: 1}})
		if err != nil || res.Refused != c.refused {
			t.Fatalf("late point at %v: %+v, %v; want %d refused", c.at, res, err, c.refused)
		}
	}
	end := time.Now()
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{"whole", start, end},
		{"unaligned", start.Add(17*time.Minute + 31*time.Second), start.Add(3*24*time.Hour + 5*time.Hour + 3*time.Minute)},
		{"no from", time.Time{}, start.Add(2 * 24 * time.Hour)},
		{"aggregates only", start.Add(2 * time.Hour), start.Add(30 * time.Hour)},
	}
	split := 0
	for _, agg := range []Agg{AggAvg, AggMin, AggMax, AggSum, AggCount, AggFirst, AggLast} {
		for _, step := range []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 24 * time.Hour} {
			for _, rg := range ranges {
				q := Query{Layer: "demo", Collection: "meters", From: rg.from, To: rg.to, Step: step, Agg: agg}
				t.Run(fmt.Sprintf("%s/%v/%s", agg, step, rg.name), func(t *testing.T) {
					cq := q
					if err := CheckQuery(&cq); err != nil {
						t.Fatal(err)
					}
					if _, ok := db.ds.plan(&cq); ok {
						split++
					}
					want := pointsOf(t, db.selectRaw, cq)
					got := pointsOf(t, db.Select, q)
					if d := samePoints(got, want); d != "" {
						t.Error(d)
					}
				})
			}
		}
	}
	if split == 0 {
		t.Fatal("no query used the aggregates")
	}
	// one document, some fields, a limit
	q := Query{Layer: "demo", Collection: "meters", IDs: []string{"M2"}, Fields: []string{"measurements.voltage", "measurements.state"},
		From: start, To: end, Step: time.Hour, Agg: AggMax, Limit: 40}
	cq := q
	_ = CheckQuery(&cq)
	if d := samePoints(pointsOf(t, db.Select, q), pointsOf(t, db.selectRaw, cq)); d != "" {
		t.Error(d)
	}
}

func TestDownsampleRestartKeepsWatermark(t *testing.T) {
	dir := t.TempDir()
	db := openDS(t, dir, 0)
	start := dsData(t, db)
	ctx := context.Background()
	if _, err := db.Downsample(ctx); err != nil {
		t.Fatal(err)
	}
	before := db.Watermarks()
	q := Query{Layer: "demo", Collection: "meters", From: start, To: time.Now(), Step: time.Hour, Agg: AggAvg}
	want := pointsOf(t, db.Select, q)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDS(t, dir, 0)
	after := db.Watermarks()
	for res, wm := range before {
		if !after[res].Equal(wm) {
			t.Errorf("%v watermark after restart %v, want %v", res, after[res], wm)
		}
	}
	r, err := db.Downsample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Periods != 0 {
		t.Errorf("after restart Downsample aggregated again: %+v", r)
	}
	if d := samePoints(pointsOf(t, db.Select, q), want); d != "" {
		t.Error(d)
	}
	// every raw sample gone (retention while the hub was idle): the
	// engine would take any sample, the watermark still refuses old ones
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "downsampled" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	db = openDS(t, dir, 0)
	wm := db.Watermarks()[5*time.Minute]
	for _, c := range []struct {
		at      time.Time
		refused int
	}{{wm.Add(-time.Minute), 1}, {wm.Add(time.Minute), 0}} {
		r, err := db.Append(ctx, []Sample{{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.voltage", T: c.at, Value: 1.0, Quality: 1}})
		if err != nil || r.Refused != c.refused || (c.refused > 0 && !strings.Contains(r.FirstRefusal, "downsampling watermark")) {
			t.Errorf("append at %v into an empty raw store: %+v, %v; want %d refused", c.at, r, err, c.refused)
		}
	}
}

func TestDownsampleOutlivesRawRetention(t *testing.T) {
	dir := t.TempDir()
	db := openDS(t, dir, 0)
	start := dsData(t, db)
	ctx := context.Background()
	if _, err := db.Downsample(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.DB().Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// whole periods: an edge period cut by from or to comes from raw
	from := start.Truncate(time.Hour).Add(time.Hour)
	old := Query{Layer: "demo", Collection: "meters", From: from, To: from.Add(36*time.Hour - time.Millisecond), Step: time.Hour, Agg: AggMax}
	want := pointsOf(t, db.Select, old)
	if len(want) == 0 {
		t.Fatal("no history")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// raw kept 30 h: the first days' blocks go
	db = openDS(t, dir, 30*time.Hour)
	raw := Query{Layer: "demo", Collection: "meters", From: start, To: start.Add(36 * time.Hour)}
	if got := pointsOf(t, db.Select, raw); len(got) != 0 {
		t.Fatalf("raw points older than the retention remain: %d series", len(got))
	}
	if d := samePoints(pointsOf(t, db.Select, old), want); d != "" {
		t.Errorf("aggregates after the raw retention: %s", d)
	}
	fs, err := db.Fields(ctx, "demo", "meters", "M1", start, start.Add(36*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fs, ",") != "measurements.mix,measurements.null,measurements.state,measurements.voltage" {
		t.Errorf("fields with only aggregates left: %v", fs)
	}
}

func TestDownsampleInBackground(t *testing.T) {
	db, err := OpenTSDB(TSDBOptions{Dir: t.TempDir(), OutOfOrderWindow: dsWindow, Downsample: dsLevels[1:], DownsampleEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dsData(t, db)
	deadline := time.Now().Add(30 * time.Second)
	for db.Watermarks()[time.Hour].IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the background job did not aggregate within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDownsampleConfig(t *testing.T) {
	h := config.Duration(time.Hour)
	for _, c := range []struct {
		name string
		cfg  Config
		want string // "" valid
	}{
		{"levels", Config{Downsample: []DownsampleLevel{{Resolution: config.Duration(5 * time.Minute)}, {Resolution: h}}}, ""},
		{"remote refuses", Config{Backend: BackendRemote, Remote: RemoteConfig{WriteURL: "http://vm/api/v1/write", ReadURL: "http://vm"},
			Downsample: []DownsampleLevel{{Resolution: h}}}, "history.downsample: is for the embedded tsdb only"},
		{"short", Config{Downsample: []DownsampleLevel{{Resolution: config.Duration(time.Second)}}}, "shorter than a minute"},
		{"not dividing", Config{Downsample: []DownsampleLevel{{Resolution: config.Duration(7 * time.Minute)}, {Resolution: h}}}, "is not a multiple of 7m"},
		{"twice", Config{Downsample: []DownsampleLevel{{Resolution: h}, {Resolution: h}}}, "listed twice"},
		{"retention", Config{Downsample: []DownsampleLevel{{Resolution: h, Retention: config.Duration(24 * time.Hour)}}}, "shorter than the raw retention"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Defaults()
			var es config.Errors
			cfg.Validate("history", &es)
			err := es.Err()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

// TestDownsampleLeavesLatePeriodsOpenAfterOutOfOrderCompaction: an edge
// replays readings that end hours ago, with late ones among them. The
// engine compacts the late readings into a block whose end is that of its
// 2 h range, after the newest reading. Periods are closed from the newest
// reading, not from that end: a late reading the engine still takes must
// be stored and counted, not refused under the watermark.
func TestDownsampleLeavesLatePeriodsOpenAfterOutOfOrderCompaction(t *testing.T) {
	const window = time.Hour
	db, err := OpenTSDB(TSDBOptions{Dir: t.TempDir(), OutOfOrderWindow: window, Downsample: dsLevels, DownsampleEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	const rng = 2 * time.Hour // the engine's block range
	// the newest reading is 10 min into a 2 h range, that range ended
	// at least an hour ago
	newest := time.Now().UTC().Add(-4 * time.Hour).Truncate(rng).Add(10 * time.Minute)
	sample := func(ts time.Time, v float64) Sample {
		return Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.voltage", T: ts, Value: v, Quality: 1}
	}
	var batch, late []Sample
	for ts := newest.Add(-8 * time.Hour); !ts.After(newest); ts = ts.Add(time.Minute) {
		batch = append(batch, sample(ts, 230))
		if d := newest.Sub(ts); d > 0 && d < 50*time.Minute {
			late = append(late, sample(ts.Add(30*time.Second), 231))
		}
	}
	for _, b := range [][]Sample{batch, late} {
		if r, err := db.Append(ctx, b); err != nil || r.Refused != 0 {
			t.Fatalf("append: %+v, %v", r, err)
		}
	}
	if err := db.db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.db.CompactOOOHead(ctx); err != nil {
		t.Fatal(err)
	}
	ooo := false
	for _, b := range db.db.Blocks() {
		if m := b.Meta(); m.Compaction.FromOutOfOrder() && m.MaxTime > newest.UnixMilli()+1 {
			ooo = true
		}
	}
	if !ooo {
		t.Fatal("the engine made no out-of-order block ending after the newest reading: the test does not test anything")
	}
	if got, want := db.closedBefore(time.Now()), newest.Add(-window).UnixMilli(); got != want {
		t.Errorf("closed before %v, want %v (the newest reading minus the window)", time.UnixMilli(got).UTC(), time.UnixMilli(want).UTC())
	}
	if _, err := db.Downsample(ctx); err != nil {
		t.Fatal(err)
	}
	// a late reading the engine's window still takes
	lateTS := newest.Add(-window + 7*time.Minute + 15*time.Second)
	r, err := db.Append(ctx, []Sample{sample(lateTS, 229)})
	if err != nil || r.Written != 1 || r.Refused != 0 {
		t.Fatalf("a reading %v before the newest was not stored: %+v, %v", newest.Sub(lateTS), r, err)
	}
	q := Query{Layer: "demo", Collection: "meters", From: newest.Add(-2 * time.Hour), To: newest, Step: 5 * time.Minute, Agg: AggCount}
	cq := q
	if err := CheckQuery(&cq); err != nil {
		t.Fatal(err)
	}
	if d := samePoints(pointsOf(t, db.Select, q), pointsOf(t, db.selectRaw, cq)); d != "" {
		t.Error(d)
	}
}
