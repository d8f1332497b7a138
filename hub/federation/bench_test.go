package federation

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// BenchmarkReplicate writes b.N document changes at A (inserts in groups
// of 100) and waits until B has applied them all, over a leaf-node link on
// loopback. Reported: changes/s end to end, and the lag (export at A to
// apply at B) of the last change. Run with -benchtime=10000x for 10k.
func BenchmarkReplicate(b *testing.B) {
	ctx := context.Background()
	aDir, bDir := b.TempDir(), b.TempDir()
	a := startDeploymentB(b, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso"}}}}}, aDir)
	bb := startDeploymentB(b, "b", Config{Peers: []Peer{{Name: "a", URL: a.leaf, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}}}}}}, bDir)
	if err := a.st.PutLayer(ctx, store.Layer{ID: "dso", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		docs := make([]store.Document, 0, 100)
		for j := i; j < min(i+100, b.N); j++ {
			docs = append(docs, store.Document{"_id": fmt.Sprintf("m%07d", j), "kw": float64(j), "at": start})
		}
		if _, err := a.st.Insert(ctx, "dso", "meters", docs); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st, _ := bb.svc.Status("a")
		if st.Applied >= uint64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("B applied %d of %d", st.Applied, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st, _ := bb.svc.Status("a")
	if st.Applied != uint64(b.N) {
		b.Fatalf("B applied %d changes, want %d", st.Applied, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "changes/s")
	b.ReportMetric(float64(st.Imports["dso"].LagMillis), "ms-lag-last")
}

// BenchmarkLoneChange writes one change at A at a time and waits until B
// applied it: ns/op is the end-to-end latency of a change at a quiet time
// (export, sourcing over the link, fetch, apply).
func BenchmarkLoneChange(b *testing.B) {
	ctx := context.Background()
	a := startDeploymentB(b, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso"}}}}}, "")
	bb := startDeploymentB(b, "b", Config{Peers: []Peer{{Name: "a", URL: a.leaf, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}}}}}}, "")
	if err := a.st.PutLayer(ctx, store.Layer{ID: "dso", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
		b.Fatal(err)
	}
	applied := func() uint64 { st, _ := bb.svc.Status("a"); return st.Applied }
	// the link is up and the importer running once a first change arrived
	if _, err := a.st.Insert(ctx, "dso", "meters", []store.Document{{"_id": "warm-up"}}); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); applied() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the first change never reached B")
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := a.st.Bulk(ctx, "dso", "meters", []store.Document{{"_id": "m", "n": float64(i)}}, false); err != nil {
			b.Fatal(err)
		}
		want := uint64(i + 2)
		for deadline := time.Now().Add(10 * time.Second); applied() < want; time.Sleep(100 * time.Microsecond) {
			if time.Now().After(deadline) {
				b.Fatalf("change %d not applied at B after 10 s", i)
			}
		}
	}
}

// BenchmarkReconcile measures the start-up reconciliation of an exported
// collection of b.N documents: ns/op is per document when FED_OUT holds
// them all (a clean restart: nothing sent); ms-all-missed is the whole
// reconciliation when b.N other documents were committed past the change
// feed (all sent).
func BenchmarkReconcile(b *testing.B) {
	ctx := context.Background()
	a := startDeploymentB(b, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso"}}}}}, "")
	if err := a.st.PutLayer(ctx, store.Layer{ID: "dso", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
		b.Fatal(err)
	}
	write := func(st store.Store, prefix string) {
		for i := 0; i < b.N; i += 1000 {
			docs := make([]store.Document, 0, 1000)
			for j := i; j < min(i+1000, b.N); j++ {
				docs = append(docs, store.Document{"_id": fmt.Sprintf("%s%07d", prefix, j), "kw": float64(j), "at": time.Now()})
			}
			if _, err := st.Insert(ctx, "dso", "meters", docs); err != nil {
				b.Fatal(err)
			}
		}
	}
	write(a.st, "m") // announced: exported
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if st, _ := a.svc.Status("b"); st.Exported == uint64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the documents were not exported")
		}
	}
	a.svc.waitAcks(ctx, a.svc.ejs)
	b.ResetTimer()
	if n := a.svc.reconcile(ctx, a.svc.ejs); n != 0 {
		b.Fatalf("a clean reconciliation exported %d changes", n)
	}
	b.StopTimer()
	write(a.raw, "x") // committed past the feed
	start := time.Now()
	if n := a.svc.reconcile(ctx, a.svc.ejs); n != b.N {
		b.Fatalf("the reconciliation exported %d changes, want %d", n, b.N)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-all-missed")
}

// BenchmarkPastHistory sends b.N points of past history (100 series of one
// collection, one point a minute each) from A's history to B's: ns/op is
// per point, from A's start to B having stored them all.
func BenchmarkPastHistory(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Minute)
	aDir := b.TempDir()
	h, err := history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(aDir, "history"), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	per := (b.N + 99) / 100
	samples := make([]history.Sample, 0, 100*per)
	for k := range per {
		for s := range 100 {
			samples = append(samples, history.Sample{Layer: "dso", Collection: "meters", ID: fmt.Sprintf("m%03d", s),
				Field: "measurements.kw", T: now.Add(-time.Duration(per-k) * time.Minute), Value: float64(k), Quality: 1})
		}
	}
	if _, err := h.Append(context.Background(), samples); err != nil {
		b.Fatal(err)
	}
	h.Close()
	b.ResetTimer()
	a := startDeploymentB(b, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso", Collections: []string{"meters"}}},
		History: &HistoryExport{Since: config.Duration(per*int(time.Minute) + int(time.Hour))}}}}, aDir)
	bb := startDeploymentB(b, "b", Config{Peers: []Peer{{Name: "a", URL: a.leaf, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}}}}}}, "")
	want := uint64(len(samples))
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		st, _ := bb.svc.Status("a")
		if st.HistoryImported >= want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("B stored %d points of %d", st.HistoryImported, want)
		}
	}
	b.StopTimer()
	if st, _ := bb.svc.Status("a"); st.HistoryImported != want || st.HistoryRefused != 0 {
		b.Fatalf("B stored %d points (%d refused), want %d", st.HistoryImported, st.HistoryRefused, want)
	}
}
