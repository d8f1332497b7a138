package federation

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
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
