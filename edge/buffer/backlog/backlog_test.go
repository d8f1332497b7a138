package backlog

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/wire"
)

func openBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(filepath.Join(t.TempDir(), "buffer.db"), buffer.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestWriteIsWhatTheAgentBuffers reads the backlog back as the forwarder
// does and decodes it as the hub does.
func TestWriteIsWhatTheAgentBuffers(t *testing.T) {
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		devices, cycles int
		perAppend       int
	}{
		{"one device", 1, 5, 0},
		{"appends end mid-way", 4, 7, 3},
		{"many devices", 50, 3, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := openBuffer(t)
			o := Options{Devices: tc.devices, Cycles: tc.cycles, Start: start, CyclesPerAppend: tc.perAppend}
			res, err := Write(buf, o)
			if err != nil {
				t.Fatal(err)
			}
			n := uint64(tc.devices * tc.cycles)
			tags := Tags()
			if res.Updates != n || res.Readings != n*uint64(len(tags)) || res.FirstSeq != 1 || res.LastSeq != n {
				t.Fatalf("result %d updates, %d readings, seq %d-%d; want %d, %d, 1-%d", res.Updates, res.Readings, res.FirstSeq, res.LastSeq, n, n*uint64(len(tags)), n)
			}
			entries, err := buf.Peek(int(n)+1, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(entries)) != n {
				t.Fatalf("%d entries queued, want %d", len(entries), n)
			}
			for i, e := range entries {
				c, d := i/tc.devices, i%tc.devices+1
				u, err := wire.DecodeUpdate(e.Data, buf.Strings())
				if err != nil {
					t.Fatalf("entry %d: %v", e.Seq, err)
				}
				ts := start.Add(time.Duration(c)*time.Second + (time.Second * time.Duration(d-1) / time.Duration(tc.devices)).Truncate(time.Millisecond))
				if e.Seq != uint64(i+1) || u.Layer != "site" || u.Collection != "devices" || u.ID != "D"+strconv.Itoa(d) || !u.TS.Equal(ts) {
					t.Fatalf("entry %d: seq %d %s/%s/%s at %s, want seq %d site/devices/D%d at %s", i, e.Seq, u.Layer, u.Collection, u.ID, u.TS, i+1, d, ts)
				}
				if len(u.Set) != len(tags)+1 {
					t.Fatalf("entry %d sets %d fields, want %d measurements and measurementsTimestamp", e.Seq, len(u.Set), len(tags))
				}
				for _, tag := range tags {
					m, ok := u.Set[model.MeasurementsPrefix+tag.Name].(map[string]any)
					if !ok {
						t.Fatalf("entry %d: %s is %T, want a measurement", e.Seq, tag.Name, u.Set[model.MeasurementsPrefix+tag.Name])
					}
					want := tag.Value(d, c)
					got, _ := m["value"].(float64)
					if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) || m["quality"] != float64(model.QualityGood) {
						t.Fatalf("entry %d %s: %v, want value %v with good quality", e.Seq, tag.Name, m, want)
					}
				}
			}
			last := res.LastValues["D"+strconv.Itoa(tc.devices)]
			if len(res.LastValues) != tc.devices || last["pollCount"] != float64(tc.cycles) {
				t.Fatalf("last values of %d devices, last pollCount %v; want %d devices and %d", len(res.LastValues), last["pollCount"], tc.devices, tc.cycles)
			}
		})
	}
}

// TestValuesMoveLikeMeters: waves stay in their band and change, counters
// never go down, and every value is one its register can hold.
func TestValuesMoveLikeMeters(t *testing.T) {
	for _, tag := range Tags() {
		t.Run(tag.Name, func(t *testing.T) {
			changes := 0
			prev := tag.Value(3, 0)
			for c := 1; c < 7200; c++ {
				v := tag.Value(3, c)
				if v != prev {
					changes++
				}
				switch tag.kind {
				case counter, polls:
					if v < prev {
						t.Fatalf("cycle %d: %v after %v, a counter went down", c, v, prev)
					}
				default:
					if d := math.Abs(v - tag.base); d > tag.amp*1.01+tag.res {
						t.Fatalf("cycle %d: %v is %v from the base %v, more than the swing %v", c, v, d, tag.base, tag.amp)
					}
				}
				if tag.res > 0 && math.Abs(v/tag.res-math.Round(v/tag.res)) > 1e-6 {
					t.Fatalf("cycle %d: %v is not a multiple of the resolution %v", c, v, tag.res)
				}
				if tag.res == 0 && float64(float32(v)) != v {
					t.Fatalf("cycle %d: %v is not a 32-bit float", c, v)
				}
				prev = v
			}
			if changes < 10 {
				t.Fatalf("%d changes in 2 hours: want a moving value", changes)
			}
		})
	}
}

// TestOptionsRefused: bad options are named, and nothing is written.
func TestOptionsRefused(t *testing.T) {
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no devices", Options{Cycles: 1, Start: start}, "devices 0"},
		{"no cycles", Options{Devices: 1, Start: start}, "cycles 0"},
		{"no start", Options{Devices: 1, Cycles: 1}, "start time is missing"},
		{"sub-millisecond period", Options{Devices: 1, Cycles: 1, Start: start, Period: 1500 * time.Microsecond}, "whole milliseconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := openBuffer(t)
			_, err := Write(buf, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if st, err := buf.Stats(); err != nil || st.Depth != 0 {
				t.Fatalf("depth %d (%v) after a refused backlog, want 0", st.Depth, err)
			}
		})
	}
}

// BenchmarkWrite measures how fast a backlog is written (unsynced, as
// gridedge-backlog writes it), per update of 30 readings.
func BenchmarkWrite(b *testing.B) {
	buf, err := buffer.Open(filepath.Join(b.TempDir(), "buffer.db"), buffer.Options{NoSync: true, GroupCommitDelay: time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	if _, err := Write(buf, Options{Devices: 500, Cycles: max(1, b.N/500), Start: start}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if st, err := buf.Stats(); err == nil && st.Depth > 0 {
		b.ReportMetric(float64(st.Bytes)/float64(st.Depth)/float64(len(Tags())), "wire-B/reading")
	}
}
