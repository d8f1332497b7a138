package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// BenchmarkMarkOffline is one look for silent edges (every second on every
// hub) in a system/edges of b's edge count, none of them silent: what the
// fleet pays for keeping its state in the store rather than in memory.
func BenchmarkMarkOffline(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("edges=%d", n), func(b *testing.B) {
			st := openStore(b)
			ctx := context.Background()
			if err := EnsureLayer(ctx, st, Collection); err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			docs := make([]store.Document, n)
			for i := range docs {
				rec := newRecord(fmt.Sprintf("e%05d", i), []byte(agentHeartbeat), now)
				d := store.Document{"_id": rec.summary.Edge, "heartbeat": map[string]any{"edge": rec.summary.Edge, "uptime": 1.0},
					"receivedAt": now, "offlineAt": rec.offlineAt()}
				rec.fill(d)
				docs[i] = d
			}
			if _, err := st.Bulk(ctx, Layer, Collection, docs, false); err != nil {
				b.Fatal(err)
			}
			f := New(nil, st, domain, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			f.now = func() time.Time { return now.Add(time.Second) }
			if err := f.prepareOffline(ctx); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				f.markOffline(ctx)
			}
		})
	}
}
