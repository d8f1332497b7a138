package buffer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/wire"
)

// decodeAll decodes every queued entry as the hub will see it.
func decodeAll(t *testing.T, b *Buffer) []model.Update {
	t.Helper()
	es, err := b.Peek(1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]model.Update, len(es))
	for i, e := range es {
		if out[i], err = wire.DecodeUpdate(e.Data, b.Strings()); err != nil {
			t.Fatalf("decode entry %d: %v", e.Seq, err)
		}
	}
	return out
}

// asJSON is what the hub made of u when updates travelled as JSON.
func asJSON(t *testing.T, u model.Update) model.Update {
	t.Helper()
	data, err := json.Marshal(&u)
	if err != nil {
		t.Fatal(err)
	}
	var out model.Update
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameUpdate(got, want model.Update) bool {
	return got.Layer == want.Layer && got.Collection == want.Collection && got.ID == want.ID &&
		got.TS.Equal(want.TS) && reflect.DeepEqual(got.Set, want.Set)
}

// The dictionary survives a restart: entries written before decode after
// it, and strings added after it get new ids.
func TestDictionarySurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	now := time.Now().UTC()
	first := model.MeasurementUpdate("site", "meters", "M1", now, map[string]model.Measurement{"v": {Value: 1.5, Quality: 1, Timestamp: now}})
	second := model.MeasurementUpdate("site", "feeders", "F1", now, map[string]model.Measurement{"i": {Value: 7, Quality: 2, Timestamp: now}})
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(first); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = open(t, path, Options{})
	if _, err := b.Append(second); err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, b)
	for i, want := range []model.Update{first, second} {
		if i >= len(got) || !sameUpdate(got[i], asJSON(t, want)) {
			t.Fatalf("update %d after a restart: got %+v, want %+v", i, got, asJSON(t, want))
		}
	}
}

// writeLegacy writes a queue file as the JSON-storing version did.
func writeLegacy(t *testing.T, path string, updates []model.Update) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		q, _ := tx.CreateBucket(bucketQueue)
		m, _ := tx.CreateBucket(bucketMeta)
		var size uint64
		for i := range updates {
			data, err := json.Marshal(&updates[i])
			if err != nil {
				return err
			}
			size += uint64(len(data))
			if err := q.Put(seqKey(uint64(i+1)), data); err != nil {
				return err
			}
		}
		n := uint64(len(updates))
		return errorsJoin(putU64(m, keyNextSeq, n+1), putU64(m, keyCount, n), putU64(m, keyBytes, size))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// A buffer file of the JSON-storing version drains after an upgrade: its
// entries convert to what the hub decoded from them before, and new
// appends continue the sequence.
func TestLegacyJSONEntriesConvert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	ts := time.Date(2024, 5, 1, 10, 0, 0, 5, time.UTC)
	old := []model.Update{
		model.MeasurementUpdate("site", "meters", "M1", ts, map[string]model.Measurement{"v": {Value: 230.1, Quality: 1, Timestamp: ts}}),
		{Layer: "site", Collection: "meters", ID: "M2", TS: ts.Add(time.Second), Set: map[string]any{"name": "feeder", "list": []any{1, "a"}}},
	}
	writeLegacy(t, path, old)
	b := open(t, path, Options{})
	st, err := b.Stats()
	if err != nil || st.Depth != 2 || !st.OldestTS.Equal(ts) {
		t.Fatalf("stats of the old file: %+v, %v", st, err)
	}
	now := ts.Add(time.Minute)
	fresh := model.MeasurementUpdate("site", "meters", "M1", now, map[string]model.Measurement{"v": {Value: 231.0, Quality: 1, Timestamp: now}})
	if seq, err := b.Append(fresh); err != nil || seq != 3 {
		t.Fatalf("append after the upgrade: seq %d, %v; want 3", seq, err)
	}
	got := decodeAll(t, b)
	want := append(old, fresh)
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if w := asJSON(t, want[i]); !sameUpdate(got[i], w) {
			t.Errorf("entry %d: got %+v, want %+v", i+1, got[i], w)
		}
	}
	if _, err := b.TrimAge(now.Add(1000 * time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// poll is one poll of a 30-register device with changing values.
func poll(dev, tick int, ts time.Time) model.Update {
	ms := make(map[string]model.Measurement, 30)
	for i := range 30 {
		var v any = float64(float32(230 + 0.1*float64((tick*7+i*13+dev)%100))) // float32 register
		if i%3 == 0 {
			v = float64(tick*31 + i + dev) // counters and integer registers
		}
		ms[fmt.Sprintf("register%02d", i)] = model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: ts}
	}
	return model.MeasurementUpdate("modbus", "meters", fmt.Sprintf("dev-%03d", dev), ts, ms)
}

// BenchmarkDiskPerReading measures how much buffer.db grows per reading
// while 500 devices × 30 registers are buffered (an outage): one second's
// 500 updates are appended per op, as the pollers do. disk-B/reading is the
// growth of the file's used extent (bbolt's high-water page, free pages
// included) per reading; file-B/reading is the growth of the file itself,
// which bbolt preallocates in doubling steps up to 1 GiB and in 16 MiB steps
// beyond, so it converges to disk-B/reading for large files.
func BenchmarkDiskPerReading(b *testing.B) {
	path := filepath.Join(b.TempDir(), "buffer.db")
	buf, err := Open(path, Options{NoSync: true, MaxBytes: 1 << 40, MaxUpdates: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	const devices = 500
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	// warm up: the first seconds create the dictionary and the first pages
	for tick := range 5 {
		for d := range devices {
			if _, err := buf.Append(poll(d, tick, start.Add(time.Duration(tick)*time.Second))); err != nil {
				b.Fatal(err)
			}
		}
	}
	fi, _ := os.Stat(path)
	before, extentBefore := fi.Size(), extent(b, buf)
	readings := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tick := 5 + i
		ts := start.Add(time.Duration(tick) * time.Second)
		us := make([]model.Update, 0, devices)
		for d := range devices {
			us = append(us, poll(d, tick, ts.Add(time.Duration(d)*time.Millisecond)))
		}
		// pollers append one update each, grouped by group commit
		for j := 0; j < devices; j += 50 {
			if _, err := buf.Append(us[j : j+50]...); err != nil {
				b.Fatal(err)
			}
		}
		readings += devices * 30
	}
	b.StopTimer()
	fi, _ = os.Stat(path)
	st, _ := buf.Stats()
	b.ReportMetric(float64(extent(b, buf)-extentBefore)/float64(readings), "disk-B/reading")
	b.ReportMetric(float64(fi.Size()-before)/float64(readings), "file-B/reading")
	b.ReportMetric(float64(st.Bytes)/float64(st.Depth*30), "enc-B/reading")
}

// extent is the size of the used part of the file.
func extent(tb testing.TB, b *Buffer) int64 {
	var n int64
	if err := b.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		tb.Fatal(err)
	}
	return n
}
