package model

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestBatchValidate(t *testing.T) {
	ts := time.Date(2021, 7, 28, 5, 48, 17, 0, time.UTC)
	good := MeasurementUpdate("gridflex", "generators", "TSO", ts, map[string]Measurement{"activePower": {Value: 3660.17, Quality: QualityGood, Timestamp: ts}})
	tests := []struct {
		name string
		b    Batch
		want string
	}{
		{"ok", Batch{Edge: "e1", SeqFirst: 5, SeqLast: 5, Updates: []Update{good}}, ""},
		{"no edge", Batch{SeqFirst: 1, SeqLast: 1, Updates: []Update{good}}, "edge is empty"},
		{"seq zero", Batch{Edge: "e", SeqFirst: 0, SeqLast: 0, Updates: []Update{good}}, "seq_first must be at least 1"},
		{"reversed", Batch{Edge: "e", SeqFirst: 3, SeqLast: 2}, "before seq_first"},
		{"count mismatch", Batch{Edge: "e", SeqFirst: 1, SeqLast: 2, Updates: []Update{good}}, "1 updates for sequence 1-2"},
		{"bad update", Batch{Edge: "e", SeqFirst: 1, SeqLast: 1, Updates: []Update{{Layer: "a_b", Collection: "c", ID: "x", Set: map[string]any{"..": 1}, TS: ts}}}, "update 0 (seq 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	b := Batch{Edge: "e1", SeqFirst: 10, SeqLast: 12}
	if b.MsgID() != "e1:10-12" {
		t.Fatalf("MsgID %q", b.MsgID())
	}
}

func TestUpdateValidateNamesEveryProblem(t *testing.T) {
	u := Update{Layer: "a_b", Set: map[string]any{"_id": 1, "x.": 2}}
	err := u.Validate()
	for _, w := range []string{"collection is empty", "id is empty", "contains '_'", `"_id" is not a valid field path`, `"x." is not a valid field path`, "ts is missing"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not say %q", err, w)
		}
	}
}

func TestReplaceNonFinite(t *testing.T) {
	ts := time.Now()
	us := []Update{MeasurementUpdate("l", "c", "d", ts, map[string]Measurement{
		"nan":  {Value: math.NaN(), Quality: QualityGood, Timestamp: ts},
		"inf":  {Value: math.Inf(1), Quality: QualitySuspect, Timestamp: ts},
		"fine": {Value: 1.5, Quality: QualityGood, Timestamp: ts},
	})}
	us[0].Set["raw"] = math.Inf(-1)
	ReplaceNonFinite(us)
	if m := us[0].Set["measurements.nan"].(Measurement); m.Value != nil || m.Quality != QualityBad {
		t.Fatalf("NaN: %+v", m)
	}
	if m := us[0].Set["measurements.inf"].(Measurement); m.Value != nil || m.Quality != QualitySuspect {
		t.Fatalf("Inf keeps the rule's quality: %+v", m)
	}
	if m := us[0].Set["measurements.fine"].(Measurement); m.Value != 1.5 {
		t.Fatalf("finite value changed: %+v", m)
	}
	if us[0].Set["raw"] != nil {
		t.Fatal("raw -Inf not replaced")
	}
}
