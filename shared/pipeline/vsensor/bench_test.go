package vsensor

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// BenchmarkSensor4Inputs measures one input update that recomputes an
// event-driven sensor with 4 inputs (two vars and a template of two
// measurements plus measurementsTimestamp).
func BenchmarkSensor4Inputs(b *testing.B) {
	s := Settings{Sensors: []Group{{Collection: "grid_feeders", VirtualSensors: []Sensor{{
		ID: "F1",
		Vars: map[string]any{
			"P": "{grid_meters.M1>measurements.p.value} + {grid_meters.M2>measurements.p.value} + {grid_meters.M3>measurements.p.value} + {grid_meters.M4>measurements.p.value}",
			"K": 1000,
		},
		Template: map[string]any{
			"measurements": map[string]any{
				"activePower": map[string]any{"value": "{P} / {K}", "quality": 1, "virtual": true, "timestamp": "{timestamp}"},
				"meters":      map[string]any{"value": 4, "quality": 1, "virtual": true, "timestamp": "{timestamp}"},
			},
			"measurementsTimestamp": "{timestamp}",
		},
	}}}}}
	e, err := New(&s)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	in := make([]model.Update, 4)
	for i, id := range []string{"M1", "M2", "M3", "M4"} {
		in[i] = model.MeasurementUpdate("grid", "meters", id, now, map[string]model.Measurement{"p": {Value: float64(i), Quality: 1, Timestamp: now}})
	}
	if out := e.Observe(in, now); len(out) != 1 {
		b.Fatalf("got %d outputs", len(out))
	}
	one := in[:1]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if out := e.Observe(one, now); len(out) != 1 {
			b.Fatalf("got %d outputs", len(out))
		}
	}
}
