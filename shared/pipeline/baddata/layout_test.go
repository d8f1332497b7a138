package baddata

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// TestLayoutChanges checks that Process follows the fields of a
// document's updates when they change from one update to the next (the
// per-document layout cache): the same number of fields with another
// name, fewer, more, and a non-measurement field in place of a measurement.
func TestLayoutChanges(t *testing.T) {
	e, err := New([]Rule{{ID: "max", Detect: Detect{Type: DetectRange, Max: f(10)}, Actions: []Action{{Type: ActionDiscard}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		set  map[string]any
		want []string // the keys left
	}{
		{map[string]any{"measurements.a": 1.0, "measurements.b": 99.0}, []string{"measurements.a"}},
		{map[string]any{"measurements.a": 1.0, "measurements.b": 99.0}, []string{"measurements.a"}},
		{map[string]any{"measurements.a": 99.0, "measurements.c": 1.0}, []string{"measurements.c"}},
		{map[string]any{"measurements.a": 1.0, "nominal": 99.0}, []string{"measurements.a", "nominal"}},
		{map[string]any{"nominal": 1.0, "measurements.b": 99.0}, []string{"nominal"}},
		{map[string]any{"measurements.a": 99.0}, nil},
		{map[string]any{"measurements.a": 1.0, "measurements.b": 2.0, "measurements.c": 30.0}, []string{"measurements.a", "measurements.b"}},
	} {
		ts := t0.Add(time.Duration(i) * time.Second)
		set := map[string]any{}
		for k, v := range tc.set {
			if k != "nominal" {
				v = model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: ts}
			}
			set[k] = v
		}
		out := e.Process([]model.Update{{Layer: "grid", Collection: "meters", ID: "M1", TS: ts, Set: set}}, ts)
		var got []string
		if len(out) == 1 {
			for k := range out[0].Set {
				got = append(got, k)
			}
		}
		if !sameKeys(got, tc.want) {
			t.Errorf("update %d %v: got keys %v, want %v", i, tc.set, got, tc.want)
		}
	}
	if s := e.Stats()["max"]; s.Evaluated != 12 || s.Discarded != 6 {
		t.Errorf("stats %+v, want 12 evaluated, 6 discarded", s)
	}
}

func sameKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, k := range a {
		in[k] = true
	}
	for _, k := range b {
		if !in[k] {
			return false
		}
	}
	return true
}
