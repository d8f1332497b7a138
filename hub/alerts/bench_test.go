package alerts

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// BenchmarkWindowRuleChangeToIncident writes a measurement every 2 ms (500
// updates/s) to the bolt store (with history and change events) and
// evaluates a window rule ("the latest value is 50 above its 10 s
// average") on each; every 10th reading is a spike that fires it and the
// next one resolves it. It reports the latency from the spike's committed
// write to the change event of the incident's insert (p50, p99), the share
// of spikes that made an incident and the rate the writes reached (each
// is a bolt commit with fsync, which bounds it on a slow disk).
func BenchmarkWindowRuleChangeToIncident(b *testing.B) {
	e, firedc := startSpikeBench(b)
	ctx := context.Background()
	// committed is when the write of the reading of each timestamp (ms) returned
	committed := map[int64]time.Time{}
	var last time.Time
	write := func(v float64) {
		// a reading is identified by its timestamp (ms): keep them distinct
		ts := time.Now().UTC().Truncate(time.Millisecond)
		if !ts.After(last) {
			ts = last.Add(time.Millisecond)
		}
		last = ts
		m := map[string]any{"value": v, "quality": 1, "timestamp": ts}
		if _, err := e.st.UpdateByID(ctx, "demo", "meters", "M1", map[string]any{"measurements.power": m}); err != nil {
			b.Fatal(err)
		}
		committed[ts.UnixMilli()] = time.Now()
	}
	if res, err := e.st.Insert(ctx, "demo", "meters", []store.Document{{"_id": "M1"}}); err != nil || res.Err > 0 {
		b.Fatal(err, res.Errors)
	}
	spikes := 0
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		<-tick.C
		if i%10 == 5 {
			spikes++
			write(1000)
		} else {
			write(10)
		}
	}
	// every spike the service saw makes an incident; a spike overwritten
	// by the next reading before the service read the document is not
	// seen (the change feed names fields, it does not carry values)
	rate := float64(b.N) / time.Since(start).Seconds()
	reportSpikeLatency(b, e, firedc, committed, spikes, rate)
}

// BenchmarkWindowRuleBatched500 is the same rule at 500 updates/s as an
// edge delivers them: a batch of 5 readings of M1 (2 ms apart) every 10 ms,
// each batch one store commit (ApplyBatch, as the ingest applier writes).
// The change event of a batch names the field once; the service reads the
// readings it did not see from the history, so a spike inside a batch still
// fires. It reports the latency from the batch's committed write to the
// incident's insert event (p50, p99), the share of spikes seen and the rate.
func BenchmarkWindowRuleBatched500(b *testing.B) {
	e, firedc := startSpikeBench(b)
	ctx := context.Background()
	if res, err := e.st.Insert(ctx, "demo", "meters", []store.Document{{"_id": "M1"}}); err != nil || res.Err > 0 {
		b.Fatal(err, res.Errors)
	}
	const perBatch = 5
	committed := map[int64]time.Time{} // reading timestamp (ms) → its batch's commit
	var last time.Time
	seq := uint64(1)
	spikes, n := 0, 0
	tick := time.NewTicker(perBatch * 2 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	for n < b.N {
		<-tick.C
		batch := model.Batch{Edge: "bench", SeqFirst: seq}
		var stamps []int64
		base := time.Now().UTC().Truncate(time.Millisecond).Add(-perBatch * 2 * time.Millisecond)
		for k := 0; k < perBatch && n < b.N; k++ {
			ts := base.Add(time.Duration(k) * 2 * time.Millisecond)
			if !ts.After(last) {
				ts = last.Add(time.Millisecond)
			}
			last = ts
			v := 10.0
			if n%10 == 5 {
				v = 1000
				spikes++
			}
			n++
			batch.Updates = append(batch.Updates, model.Update{Layer: "demo", Collection: "meters", ID: "M1", TS: ts,
				Set: map[string]any{"measurements.power": map[string]any{"value": v, "quality": 1, "timestamp": ts}}})
			stamps = append(stamps, ts.UnixMilli())
		}
		batch.SeqLast = seq + uint64(len(batch.Updates)) - 1
		seq = batch.SeqLast + 1
		res, err := e.st.ApplyBatch(ctx, &batch, store.ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		// the ingest applier announces a batch's changes after its commit
		for _, c := range res.Changes {
			data, _ := json.Marshal(c)
			if err := e.nc.Publish(subject.StorageChanged(domain, c.Layer, c.Collection), data); err != nil {
				b.Fatal(err)
			}
		}
		for _, ms := range stamps {
			committed[ms] = now
		}
	}
	rate := float64(b.N) / time.Since(start).Seconds()
	reportSpikeLatency(b, e, firedc, committed, spikes, rate)
}

// startSpikeBench starts the service with the spike rule ("the latest value
// is 50 above its 10 s average") on the wall clock, and a channel of the
// incident inserts it makes.
func startSpikeBench(b *testing.B) (*env, chan fired) {
	e := newEnv(b)
	e.realTime = true
	e.start(Config{Tick: config.Duration(time.Second), Lease: config.Duration(5 * time.Second), Rules: []Rule{{ID: "spike",
		Vars: map[string]Var{"v": {Ref: "demo_meters.M1>measurements.power"},
			"a": {Ref: "demo_meters.M1>measurements.power", Agg: AggAvg, Window: config.Duration(10 * time.Second)}},
		Condition: "v > a + 50"}}}, "bench")
	firedc := make(chan fired, 1<<16)
	sub, err := e.nc.Subscribe(subject.StorageChanged(domain, "incidents", "items"), func(m *nats.Msg) {
		var c store.Change
		if json.Unmarshal(m.Data, &c) == nil && c.Op == store.OpInsert {
			firedc <- fired{c.ID, time.Now()}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	return e, firedc
}

// reportSpikeLatency waits (up to 5 s) for an incident per spike and
// reports the latency from each spike's commit (committed, by the reading's
// timestamp in ms) to its incident's insert event, the share of spikes seen
// and the rate the writes reached.
func reportSpikeLatency(b *testing.B, e *env, firedc chan fired, committed map[int64]time.Time, spikes int, rate float64) {
	ctx := context.Background()
	var lat []time.Duration
	deadline := time.After(5 * time.Second)
wait:
	for len(lat) < spikes {
		select {
		case f := <-firedc:
			doc, err := e.raw.Get(ctx, "incidents", "items", f.id)
			if err != nil {
				b.Fatal(err)
			}
			rt, _ := doc["details"].(map[string]any)["readingTimestamp"].(time.Time)
			c, ok := committed[rt.UnixMilli()]
			if !ok {
				b.Fatalf("incident %s for a reading at %v that was not written", f.id, rt)
			}
			lat = append(lat, f.at.Sub(c))
		case <-deadline:
			break wait
		}
	}
	b.StopTimer()
	if len(lat) < spikes*9/10 {
		b.Fatalf("%d of %d spikes made an incident", len(lat), spikes)
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/float64(spikes), "seen-spikes")
	b.ReportMetric(rate, "updates/s")
}

type fired struct {
	id string
	at time.Time
}
