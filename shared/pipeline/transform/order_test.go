package transform

import (
	"reflect"
	"testing"

	"github.com/gridedge/gridedge/shared/model"
)

// TestProcessFieldOrder checks what wins when the fields Process writes
// meet: an update's other field over a static attribute of the same name,
// an unconsumed measure over an attribute of the same name, and
// measurementsTimestamp reused only when it is the update's time in UTC.
func TestProcessFieldOrder(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"M1","attributes":[
		{"object_id":"u","name":"voltage","expression":"u / 10"}],
		"static_attributes":[{"name":"owner","value":"static"},{"name":"k","value":7}]}]}`)
	for _, u := range []model.Update{
		{Layer: "grid", Collection: "meters", ID: "M1", TS: t0, Set: map[string]any{
			"measurements.u": model.Measurement{Value: 2301.0, Quality: 1, Timestamp: t0}, "measurements.voltage": 1.0,
			"measurementsTimestamp": t0, "owner": "DSO"}},
		{Layer: "grid", Collection: "meters", ID: "M1", TS: t0, Set: map[string]any{
			"measurements.u": 2301.0, "measurementsTimestamp": t0.Local(), "other": 1}},
		{Layer: "grid", Collection: "meters", ID: "M1", TS: t0, Set: map[string]any{"owner": "DSO"}},
	} {
		in := []model.Update{u}
		got := tr.Process(in)
		if want := tr.Apply(ReadingOf(&in[0])); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v:\nProcess %+v\nApply   %+v", u, got, want)
		}
		if o, ok := u.Set["owner"]; ok && got[0].Set["owner"] != o {
			t.Errorf("owner %v, want the update's %v", got[0].Set["owner"], o)
		}
		if _, ok := u.Set["measurements.voltage"]; ok && got[0].Set["measurements.voltage"].(model.Measurement).Value != 1.0 {
			t.Errorf("measurements.voltage %+v, want the measure's 1", got[0].Set["measurements.voltage"])
		}
	}
}
