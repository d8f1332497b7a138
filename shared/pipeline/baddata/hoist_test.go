package baddata

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// TestLimitFieldLearnedLater checks that a range limit from a document
// field applies as soon as the field arrives, after readings assessed
// without it, and follows its later changes (Process looks the document's
// fields up once per update and keeps them with the document's layout).
func TestLimitFieldLearnedLater(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Detect: Detect{Type: DetectRange, MaxField: "nominal"}, Actions: []Action{{Type: ActionFlag}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nominal := func(v float64, ts float64) {
		at := t0.Add(time.Duration(ts * float64(time.Second)))
		e.Process([]model.Update{{Layer: "grid", Collection: "meters", ID: "M1", TS: at, Set: map[string]any{"nominal": v}}}, at)
	}
	quality := func(s sample) int {
		return wantOneMeasurement(t, e.Process([]model.Update{s.update()}, s.arrival())).Quality
	}
	if q := quality(sample{v: 500, ts: 1}); q != model.QualityGood {
		t.Errorf("no limit known: quality %d, want good", q)
	}
	nominal(100, 2)
	if q := quality(sample{v: 500, ts: 3}); q != model.QualitySuspect {
		t.Errorf("limit 100: quality %d, want suspect", q)
	}
	nominal(1000, 4)
	if q := quality(sample{v: 500, ts: 5}); q != model.QualityGood {
		t.Errorf("limit 1000: quality %d, want good", q)
	}
	// another document has its own limits
	other := model.MeasurementUpdate("grid", "meters", "M2", t0.Add(6*time.Second), map[string]model.Measurement{"v": {Value: 5000.0, Quality: model.QualityGood, Timestamp: t0.Add(6 * time.Second)}})
	if q := wantOneMeasurement(t, e.Process([]model.Update{other}, t0.Add(6*time.Second))).Quality; q != model.QualityGood {
		t.Errorf("M2 without limit: quality %d, want good", q)
	}
}
