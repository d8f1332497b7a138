package federation

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/config"
)

// seedHistory writes samples into the history of a deployment's directory
// before it starts.
func seedHistory(t *testing.T, dir string, samples []history.Sample) {
	t.Helper()
	h, err := history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(dir, "history"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	res, err := h.Append(context.Background(), samples)
	if err != nil || res.Refused > 0 {
		t.Fatalf("seed the history: %+v %v", res, err)
	}
}

// points lists a deployment's history of layer/col as "id field age value".
func points(t *testing.T, d *deployment, layer, col string, now time.Time) []string {
	t.Helper()
	var out []string
	err := d.hist.Select(context.Background(), history.Query{Layer: layer, Collection: col, From: now.Add(-100 * 24 * time.Hour), To: now},
		func(s history.Series) error {
			for p := range s.Points {
				out = append(out, fmt.Sprintf("%s %s %v %v q%d", s.ID, s.Field, now.Sub(p.Time()).Round(time.Hour), p.Value(), p.Q))
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// pastHistory is A's history of dso/substations before federation starts:
// s1 has a point beyond the 10 days sent.
func pastHistory(now time.Time) []history.Sample {
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	day := 24 * time.Hour
	return []history.Sample{
		{Layer: "dso", Collection: "substations", ID: "s1", Field: "measurements.kv", T: at(40 * day), Value: 19.0, Quality: 1},
		{Layer: "dso", Collection: "substations", ID: "s1", Field: "measurements.kv", T: at(2 * day), Value: 20.0, Quality: 1},
		{Layer: "dso", Collection: "substations", ID: "s1", Field: "measurements.kv", T: at(time.Hour), Value: 21.5, Quality: 0},
		{Layer: "dso", Collection: "substations", ID: "s1", Field: "measurements.mode", T: at(3 * day), Value: "auto", Quality: 1},
		{Layer: "dso", Collection: "substations", ID: "s2", Field: "measurements.kv", T: at(5 * day), Value: 110.0, Quality: 1},
		{Layer: "dso", Collection: "substations", ID: "s2", Field: "measurements.kv", T: at(2 * time.Hour), Value: 111.0, Quality: 1},
		{Layer: "dso", Collection: "feeders", ID: "f1", Field: "measurements.i", T: at(time.Hour), Value: 3.0, Quality: 1},
	}
}

var sentHistory = []string{
	"s1 measurements.kv 1h0m0s 21.5 q0",
	"s1 measurements.kv 48h0m0s 20 q1",
	"s1 measurements.mode 72h0m0s auto q1",
	"s2 measurements.kv 120h0m0s 110 q1",
	"s2 measurements.kv 2h0m0s 111 q1",
}

// historyPair starts A exporting dso/substations and its past history of
// 10 days to B, which imports dso as city-dso.
func historyPair(t *testing.T, aDir string) (a, b *deployment, restartA func(*deployment) *deployment) {
	return historyPairIn(t, aDir, "")
}

// historyPairIn is historyPair with B in bDir.
func historyPairIn(t *testing.T, aDir, bDir string) (a, b *deployment, restartA func(*deployment) *deployment) {
	aCfg := Config{Peers: []Peer{{Name: "b", Credentials: linkAB,
		Export:  []Grant{{Layer: "dso", Collections: []string{"substations"}}},
		History: &HistoryExport{Since: config.Duration(10 * 24 * time.Hour)}}}}
	return exporterRestarts(t, aCfg, aDir, bDir, []Import{{Grant: Grant{Layer: "dso"}, As: "city-dso"}})
}

// TestPastHistoryFollows: the exporter's history of the exported
// collections within history.since reaches the importer's history of the
// renamed layer once; a restart sends nothing again.
func TestPastHistoryFollows(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour)
	aDir := t.TempDir()
	seedHistory(t, aDir, pastHistory(now))
	a, b, restartA := historyPair(t, aDir)
	waitFor(t, "the past history at B", 30*time.Second, func() bool {
		return len(points(t, b, "city-dso", "substations", now)) >= len(sentHistory)
	})
	if got := points(t, b, "city-dso", "substations", now); !slices.Equal(got, sentHistory) {
		t.Fatalf("B's history of city-dso/substations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(sentHistory, "\n"))
	}
	if got := points(t, b, "city-dso", "feeders", now); len(got) != 0 {
		t.Fatalf("the history of a collection not exported reached B: %v", got)
	}
	if st, _ := a.svc.Status("b"); st.HistorySent != 5 {
		t.Fatalf("A sent %d points, want 5", st.HistorySent)
	}
	waitFor(t, "B to count the points", 10*time.Second, func() bool {
		st, _ := b.svc.Status("a")
		return st.HistoryImported == 5
	})

	// sent once: a restart sends nothing, and live changes still flow
	a = restartA(a)
	a.layer(t, "dso", "substations")
	if _, err := a.st.Insert(context.Background(), "dso", "substations", []store.Document{{"_id": "s9"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s9 at B", 30*time.Second, func() bool { return b.doc("city-dso", "substations", "s9") != nil })
	if st, _ := a.svc.Status("b"); st.HistorySent != 0 {
		t.Fatalf("A sent %d points again after a restart", st.HistorySent)
	}
	if st, _ := b.svc.Status("a"); st.HistoryImported != 5 || st.HistoryRefused != 0 || st.Failed != 0 {
		t.Fatalf("B's status %+v: want 5 points imported, none refused", st)
	}
}

// TestPastHistoryResumes: an exporter stopped after sending s1's history
// sends only what follows; a point the importer already holds is stored
// once.
func TestPastHistoryResumes(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour)
	aDir := t.TempDir()
	seedHistory(t, aDir, pastHistory(now))
	// the progress A recorded before it stopped
	st, err := bolt.Open(filepath.Join(aDir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	mark := map[string]any{"dso": map[string]any{"done": false, "collection": "substations", "after": "s1"}}
	if err := st.PutLayer(ctx, store.Layer{ID: StatusLayer, Collections: []store.Collection{{Name: StatusCollection}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Bulk(ctx, StatusLayer, StatusCollection, []store.Document{{"_id": "b", "history_sent": mark}}, false); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// B already holds one of s2's points
	bDir := t.TempDir()
	seedHistory(t, bDir, []history.Sample{{Layer: "city-dso", Collection: "substations", ID: "s2", Field: "measurements.kv",
		T: now.Add(-2 * time.Hour), Value: 111.0, Quality: 1}})
	a, b, _ := historyPairIn(t, aDir, bDir)
	want := sentHistory[3:]
	waitFor(t, "s2's history at B", 30*time.Second, func() bool {
		st, _ := b.svc.Status("a")
		return st.HistoryImported >= 2
	})
	if got := points(t, b, "city-dso", "substations", now); !slices.Equal(got, want) {
		t.Fatalf("B's history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st, _ := a.svc.Status("b"); st.HistorySent != 2 {
		t.Fatalf("A sent %d points, want s2's 2", st.HistorySent)
	}
	waitFor(t, "A to record the history as sent", 10*time.Second, func() bool {
		m, _ := a.doc(StatusLayer, StatusCollection, "b")["history_sent"].(map[string]any)
		d, _ := m["dso"].(map[string]any)
		return d["done"] == true
	})
}

// TestPastHistoryLeavesRoomForChanges: the past history stops before it
// fills more than half of FED_OUT (which discards its oldest messages when
// full), says so, and the changes still flow.
func TestPastHistoryLeavesRoomForChanges(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	aDir := t.TempDir()
	var samples []history.Sample
	for i := range 6000 {
		samples = append(samples, history.Sample{Layer: "dso", Collection: "substations", ID: "s1", Field: "measurements.kv",
			T: now.Add(-time.Duration(6000-i) * time.Minute), Value: float64(i), Quality: 1})
	}
	seedHistory(t, aDir, samples)
	aCfg := Config{Peers: []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso", Collections: []string{"substations"}}},
		History: &HistoryExport{Since: config.Duration(10 * 24 * time.Hour)}}}}
	a := startDeployment(t, "a", aCfg, aDir, func(o *Options) { o.MaxBytes = 512 << 10 })
	b := startDeployment(t, "b", Config{Peers: []Peer{{Name: "a", URL: a.leaf, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}, As: "city-dso"}}}}}, "")
	waitFor(t, "A to stop the past history", 20*time.Second, func() bool {
		st, _ := a.svc.Status("b")
		return strings.Contains(st.LastError, "past history stopped")
	})
	st, _ := a.svc.Status("b")
	if st.HistorySent == 0 || st.HistorySent >= 6000 {
		t.Fatalf("A sent %d points of 6000, want some, not all", st.HistorySent)
	}
	a.layer(t, "dso", "substations")
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s2"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s2 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s2") != nil })
	waitFor(t, "B to store the points sent", 20*time.Second, func() bool {
		bs, _ := b.svc.Status("a")
		return bs.HistoryImported == st.HistorySent
	})
	m, _ := a.doc(StatusLayer, StatusCollection, "b")["history_sent"].(map[string]any)
	if d, _ := m["dso"].(map[string]any); d["done"] == true {
		t.Fatal("the past history is recorded as sent although it stopped")
	}
}
