package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// viaJSON is what the hub applied before this package: the batch's JSON
// encoding, decoded.
func viaJSON(t testing.TB, b model.Batch) (model.Batch, error) {
	t.Helper()
	data, err := json.Marshal(&b)
	if err != nil {
		return model.Batch{}, err
	}
	var out model.Batch
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("decode the JSON batch: %v", err)
	}
	return out, nil
}

// viaWire encodes the updates as the edge buffer does and decodes the batch
// as the hub does.
func viaWire(b model.Batch) (model.Batch, error) {
	var d MemDict
	enc := make([][]byte, len(b.Updates))
	for i := range b.Updates {
		var err error
		if enc[i], err = AppendUpdate(nil, &b.Updates[i], &d); err != nil {
			return model.Batch{}, err
		}
	}
	data, err := AppendBatch(nil, b.Edge, b.SeqFirst, enc, &d)
	if err != nil {
		return model.Batch{}, err
	}
	return DecodeBatch(data)
}

// sameBatch reports how got differs from want ("" if not at all): times
// are compared as instants and by their RFC 3339 text (the zone's name is
// not carried by JSON either).
func sameBatch(got, want model.Batch) string {
	if got.Edge != want.Edge || got.SeqFirst != want.SeqFirst || got.SeqLast != want.SeqLast || len(got.Updates) != len(want.Updates) {
		return fmt.Sprintf("header %q %d-%d (%d updates), want %q %d-%d (%d updates)",
			got.Edge, got.SeqFirst, got.SeqLast, len(got.Updates), want.Edge, want.SeqFirst, want.SeqLast, len(want.Updates))
	}
	for i := range got.Updates {
		g, w := got.Updates[i], want.Updates[i]
		if g.Layer != w.Layer || g.Collection != w.Collection || g.ID != w.ID {
			return fmt.Sprintf("update %d: %q/%q/%q, want %q/%q/%q", i, g.Layer, g.Collection, g.ID, w.Layer, w.Collection, w.ID)
		}
		if !g.TS.Equal(w.TS) || g.TS.Format(time.RFC3339Nano) != w.TS.Format(time.RFC3339Nano) {
			return fmt.Sprintf("update %d: ts %s, want %s", i, g.TS.Format(time.RFC3339Nano), w.TS.Format(time.RFC3339Nano))
		}
		if !reflect.DeepEqual(g.Set, w.Set) {
			return fmt.Sprintf("update %d: set\n got %#v\nwant %#v", i, g.Set, w.Set)
		}
	}
	return ""
}

var zones = []*time.Location{time.UTC, time.FixedZone("CEST", 2*3600), time.FixedZone("", -(3*3600 + 30*60)),
	time.FixedZone("LMT", 3600+23), time.FixedZone("zero", 0)}

func genString(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return ""
	case 1:
		return "bad\xff\xfeutf8"
	case 2:
		return "ünïcødé ⚡ <&>"
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABC_0123456789"
	b := make([]byte, 1+r.IntN(12))
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

func genTime(r *rand.Rand, base time.Time) time.Time {
	switch r.IntN(6) {
	case 0, 1:
		return base
	case 2:
		return base.Add(time.Duration(r.Int64N(int64(10*time.Second))) - 5*time.Second)
	case 3:
		return base.In(zones[r.IntN(len(zones))])
	case 4:
		return time.Unix(r.Int64N(250_000_000_000)-62_000_000_000, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	}
	return base.Add(time.Duration(r.Int64N(math.MaxInt64)))
}

func genValue(r *rand.Rand, ts time.Time, depth int) any {
	switch r.IntN(20) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return float64(float32(r.NormFloat64() * 1000)) // a float32 widened exactly
	case 3:
		f := float32(r.NormFloat64() * 1000)
		d, _ := json.Marshal(f)
		var v float64
		_ = json.Unmarshal(d, &v)
		return v // what the codec makes of a float32 register
	case 4:
		return r.NormFloat64() * 1e6
	case 5:
		return float64(r.Int64N(1<<54) - 1<<53)
	case 6:
		return math.Copysign(0, -1)
	case 7:
		return r.Int64() - r.Int64()
	case 8:
		return r.Uint64()
	case 9:
		return float32(r.NormFloat64())
	case 10:
		return int(r.Int32()) % 1000
	case 11:
		return genString(r)
	case 12:
		return genTime(r, ts)
	case 13, 14:
		if depth > 0 {
			return 2.5 // ReplaceNonFinite leaves nested NaN, which JSON refuses
		}
		if r.IntN(2) == 0 {
			return math.NaN()
		}
		return math.Inf(-1)
	case 15:
		if depth > 1 {
			return "deep"
		}
		return map[string]any{"x": genValue(r, ts, depth+1), "l": []any{1, "two", genValue(r, ts, depth+1)}}
	case 16:
		return []int{1, 2, 3}
	case 17:
		return json.Number("12.50")
	case 18:
		return uint16(r.Uint32())
	}
	return math.MaxFloat64 / float64(1+r.IntN(1000))
}

func genQuality(r *rand.Rand) int {
	if r.IntN(10) == 0 {
		return []int{-1, 4, 7, 1 << 40, math.MinInt}[r.IntN(5)]
	}
	return r.IntN(4)
}

func genUpdate(r *rand.Rand) model.Update {
	ts := time.Unix(1_700_000_000+r.Int64N(100_000_000), r.Int64N(1e9)).UTC()
	if r.IntN(8) == 0 {
		ts = ts.In(zones[r.IntN(len(zones))])
	}
	u := model.Update{Layer: genString(r), Collection: genString(r), ID: genString(r), TS: ts}
	switch r.IntN(20) {
	case 0:
		return u // nil set
	case 1:
		u.Set = map[string]any{}
		return u
	}
	u.Set = map[string]any{}
	for range 1 + r.IntN(35) {
		k := genString(r)
		switch r.IntN(5) {
		case 0:
			u.Set[k] = genValue(r, ts, 0)
		case 1:
			u.Set[model.MeasurementsTimestampField] = genTime(r, ts)
		default:
			u.Set[model.MeasurementsPrefix+k] = model.Measurement{Value: genValue(r, ts, 0), Quality: genQuality(r), Timestamp: genTime(r, ts)}
		}
	}
	return u
}

// The hub sees exactly what it saw with JSON, over many generated updates
// (after model.ReplaceNonFinite, as the agent runs it).
func TestRoundTripMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	encodeErrors := 0
	for i := range 3000 {
		b := model.Batch{Edge: genString(r), SeqFirst: 1 + r.Uint64N(1<<40)}
		for range 1 + r.IntN(4) {
			b.Updates = append(b.Updates, genUpdate(r))
		}
		b.SeqLast = b.SeqFirst + uint64(len(b.Updates)) - 1
		model.ReplaceNonFinite(b.Updates)
		want, jerr := viaJSON(t, b)
		got, werr := viaWire(b)
		if (jerr != nil) != (werr != nil) {
			t.Fatalf("batch %d: JSON error %v, wire error %v", i, jerr, werr)
		}
		if jerr != nil {
			encodeErrors++
			continue
		}
		if diff := sameBatch(got, want); diff != "" {
			t.Fatalf("batch %d: %s", i, diff)
		}
	}
	if encodeErrors > 600 {
		t.Errorf("%d of 3000 batches could not be encoded; the generator tests too little", encodeErrors)
	}
}

func TestEncodeRefusesWhatJSONRefuses(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		set  map[string]any
	}{
		{"NaN", map[string]any{"x": math.NaN()}},
		{"float32 Inf", map[string]any{"x": float32(math.Inf(1))}},
		{"NaN measurement not replaced", map[string]any{"m": model.Measurement{Value: math.Inf(1), Timestamp: ts}}},
		{"year 10000", map[string]any{"t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"zone of 25h", map[string]any{"t": ts.In(time.FixedZone("", 25*3600))}},
		{"NaN in a map", map[string]any{"m": map[string]any{"v": math.NaN()}}},
		{"channel", map[string]any{"c": make(chan int)}},
	}
	for _, tt := range tests {
		u := model.Update{Layer: "l", Collection: "c", ID: "i", TS: ts, Set: tt.set}
		_, err := AppendUpdate(nil, &u, &MemDict{})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v, want ErrUnsupported", tt.name, err)
		}
		if _, jerr := json.Marshal(&u); jerr == nil {
			t.Errorf("%s: JSON encodes it; the test is wrong", tt.name)
		}
	}
}

// typical is one poll of a 30-register device as the agent buffers it.
func typical(ts time.Time, dev int) model.Update {
	ms := map[string]model.Measurement{}
	for i := range 30 {
		v := float64(float32(230.0 + float64(i) + float64(dev)/7)) // float32 registers
		if i%3 == 0 {
			v = float64(1000 + i*dev) // integer registers
		}
		ms[fmt.Sprintf("register%02d", i)] = model.Measurement{Value: shortest32(float32(v)), Quality: model.QualityGood, Timestamp: ts}
	}
	return model.MeasurementUpdate("modbus", "meters", fmt.Sprintf("dev-%03d", dev), ts, ms)
}

func TestTypicalUpdateIsSmall(t *testing.T) {
	var d MemDict
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	enc, err := AppendUpdate(nil, ptr(typical(ts, 1)), &d)
	if err != nil {
		t.Fatal(err)
	}
	// key id 1, header 1, value ≤ 4 per reading; update header ~12
	if got, want := len(enc), 30*6+15; got > want {
		t.Errorf("encoded typical update: %d bytes, want at most %d", got, want)
	}
	js, _ := json.Marshal(typical(ts, 1))
	t.Logf("typical 30-measurement update: %d bytes (JSON %d)", len(enc), len(js))
}

func ptr[T any](v T) *T { return &v }

func TestDecodeErrorsNameTheProblem(t *testing.T) {
	var d MemDict
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	u := model.MeasurementUpdate("l", "c", "i", ts, map[string]model.Measurement{"v": {Value: 1.5, Quality: 1, Timestamp: ts}})
	enc, err := AppendUpdate(nil, &u, &d)
	if err != nil {
		t.Fatal(err)
	}
	good, err := AppendBatch(nil, "e1", 5, [][]byte{enc}, &d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBatch(good); err != nil {
		t.Fatalf("the good batch: %v", err)
	}
	// the dictionary without its last entry (ids are written in order)
	dictOnly := &MemDict{}
	for id := range d.Len() - 1 {
		s, _ := d.String(id)
		dictOnly.Add(id, s)
	}
	missing, err := AppendBatch(nil, "e1", 5, [][]byte{enc}, dictOnly)
	if !errors.Is(err, ErrUnknownID) {
		t.Fatalf("AppendBatch with a string missing: %v, want ErrUnknownID", err)
	}
	_ = missing
	withVersion := func(v byte) []byte { b := append([]byte(nil), good...); b[3] = v; return b }
	tests := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"empty", nil, ErrVersion, "magic"},
		{"JSON", []byte(`{"edge":"e1"}`), ErrVersion, "magic"},
		{"version 2", withVersion(2), ErrVersion, "version 2"},
		{"truncated", good[:len(good)-3], ErrTruncated, "update seq 5"},
		{"trailing", append(append([]byte(nil), good...), 0), ErrInvalid, "trailing"},
		{"count", countMismatch(t, good), ErrCount, "2 updates for sequence 5-5"},
		{"unknown id", unknownID(t, enc), ErrUnknownID, "id"},
	}
	for _, tt := range tests {
		_, err := DecodeBatch(tt.data)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: error %v, want %v naming %q", tt.name, err, tt.want, tt.text)
		}
	}
}

// countMismatch rewrites the update count of a one-update batch to 2.
func countMismatch(t *testing.T, good []byte) []byte {
	t.Helper()
	b, err := DecodeBatch(good)
	if err != nil {
		t.Fatal(err)
	}
	_ = b
	// the count byte sits right before the single update's length
	r := reader{b: good, off: len(magic) + 1}
	r.str("edge")
	r.uvarint("first")
	r.uvarint("last")
	n, _ := r.uvarint("dict")
	for range n {
		r.uvarint("id")
		r.str("s")
	}
	out := append([]byte(nil), good...)
	out[r.off] = 2
	return out
}

// unknownID is a batch whose dictionary is empty.
func unknownID(t *testing.T, enc []byte) []byte {
	t.Helper()
	var b []byte
	b = append(b, magic...)
	b = append(b, Version, 2, 'e', '1', 5, 5, 0, 1, byte(len(enc)))
	return append(b, enc...)
}

func TestUpdateTSAndRefs(t *testing.T) {
	var d MemDict
	ts := time.Date(2024, 5, 1, 10, 0, 0, 7, time.FixedZone("", 3600))
	u := typical(ts, 3)
	u.Set["extra"] = map[string]any{"a": 1}
	u.Set["m"] = model.Measurement{Value: ts, Quality: 9, Timestamp: ts.Add(-time.Hour)}
	enc, err := AppendUpdate(nil, &u, &d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UpdateTS(enc)
	if err != nil || !got.Equal(ts) {
		t.Errorf("UpdateTS = %v, %v; want %v", got, err, ts)
	}
	refs := map[uint64]bool{}
	if err := Refs(enc, func(id uint64) { refs[id] = true }); err != nil {
		t.Fatal(err)
	}
	if got, want := uint64(len(refs)), d.Len(); got != want {
		t.Errorf("Refs found %d ids, want %d", got, want)
	}
}

// FuzzDecodeBatch: decoding never panics, and what decodes re-encodes to a
// batch that decodes to the same.
func FuzzDecodeBatch(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		b := model.Batch{Edge: "e1", SeqFirst: 1 + r.Uint64N(1000)}
		for range 1 + r.IntN(3) {
			b.Updates = append(b.Updates, genUpdate(r))
		}
		b.SeqLast = b.SeqFirst + uint64(len(b.Updates)) - 1
		model.ReplaceNonFinite(b.Updates)
		var d MemDict
		var enc [][]byte
		ok := true
		for i := range b.Updates {
			e, err := AppendUpdate(nil, &b.Updates[i], &d)
			if err != nil {
				ok = false
				break
			}
			enc = append(enc, e)
		}
		if !ok {
			continue
		}
		data, err := AppendBatch(nil, b.Edge, b.SeqFirst, enc, &d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data)
		if err != nil {
			return
		}
		again, err := viaWire(b)
		if err != nil {
			t.Fatalf("a decoded batch does not re-encode: %v", err)
		}
		if diff := sameBatch(again, b); diff != "" {
			t.Fatalf("re-encoded batch differs: %s", diff)
		}
	})
}

func BenchmarkAppendUpdate(b *testing.B) {
	var d MemDict
	u := typical(time.Now().UTC(), 1)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendUpdate(buf[:0], &u, &d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf))/30, "B/reading")
}

func BenchmarkEncoder(b *testing.B) {
	e := Encoder{Dict: &MemDict{}}
	u := typical(time.Now().UTC(), 1)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = e.AppendUpdate(buf[:0], &u); err != nil {
			b.Fatal(err)
		}
	}
}

// The Encoder's cache gives the same bytes as the plain function.
func TestEncoderMatchesAppendUpdate(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var d1, d2 MemDict
	e := Encoder{Dict: &d2}
	for i := range 500 {
		u := genUpdate(r)
		model.ReplaceNonFinite([]model.Update{u})
		want, werr := AppendUpdate(nil, &u, &d1)
		got, gerr := e.AppendUpdate(nil, &u)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("update %d: errors %v and %v", i, werr, gerr)
		}
		if werr != nil {
			continue
		}
		a, _ := DecodeUpdate(want, &d1)
		b, _ := DecodeUpdate(got, &d2)
		if !reflect.DeepEqual(a.Set, b.Set) {
			t.Fatalf("update %d: the Encoder decodes to %v, AppendUpdate to %v", i, b.Set, a.Set)
		}
	}
}

func BenchmarkDecodeUpdate(b *testing.B) {
	var d MemDict
	u := typical(time.Now().UTC(), 1)
	enc, _ := AppendUpdate(nil, &u, &d)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeUpdate(enc, &d); err != nil {
			b.Fatal(err)
		}
	}
}
