package transform

import (
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// processConfig exercises every path of apply: a group and a device
// merged, renames, expressions over measures, statics, id and type, a
// multi-entity attribute with an entity_name expression, a relative filter
// (a map context), skipValue, and explicitAttrs as an expression.
const processConfig = `{"groups":[{"entity_type":"grid_meters","attributes":[
		{"object_id":"u","name":"voltage","expression":"u / 10"},
		{"name":"tagged","expression":"type + ':' + id + ':' + k"},
		{"object_id":"x","name":"ext","entity_type":"grid_aux","entity_name":"'aux-' + id"},
		{"name":"firstBig","expression":"arr[.v > 1][0].v"},
		{"name":"skipped","expression":"p * 0","skipValue":0}],
	"static_attributes":[{"name":"k","value":7}]}],
	"devices":[{"device_id":"M1","attributes":[
		{"object_id":"p","name":"activePower"},
		{"name":"apparentPower","expression":"(p^2 + q^2)^0.5"}],
		"static_attributes":[{"name":"nominal","value":230}]},
	{"device_id":"M2","explicitAttrs":"p > 100 ? ['activePower','voltage'] : p > 10","attributes":[{"object_id":"p","name":"activePower"}]}]}`

// TestProcessMatchesApply checks that Process, which reads updates in
// place, gives what Apply(ReadingOf(u)) gives.
func TestProcessMatchesApply(t *testing.T) {
	tr := decode(t, processConfig)
	paris, _ := time.LoadLocation("Europe/Paris")
	if paris == nil {
		paris = time.FixedZone("CET", 3600)
	}
	m := func(v any, q int, ts time.Time) model.Measurement {
		return model.Measurement{Value: v, Quality: q, Timestamp: ts}
	}
	mono := time.Now() // with a monotonic reading
	var updates []model.Update
	for _, id := range []string{"M1", "M2", "M3"} {
		for _, p := range []float64{5, 50, 500} {
			updates = append(updates,
				model.MeasurementUpdate("grid", "meters", id, t0, map[string]model.Measurement{
					"u": m(2301.0, 1, t0), "p": m(p, 1, t0), "q": m(4.0, 2, t0.Add(time.Second)), "x": m("ext", 1, time.Time{}),
					"arr": m([]any{map[string]any{"v": 0.5}, map[string]any{"v": 3.0}}, 1, t0), "f": m(50.0, 3, t0.In(paris)),
				}),
				model.Update{Layer: "grid", Collection: "meters", ID: id, TS: mono, Set: map[string]any{
					"measurements.p": map[string]any{"value": p, "quality": 1.0}, "measurements.q": map[string]any{"value": 3},
					"measurements.u": 2200, "measurements.s": m("x", 1, mono), "measurementsTimestamp": mono, "owner": "DSO"}},
				model.Update{Layer: "grid", Collection: "meters", ID: id, TS: t0, Set: map[string]any{"owner": "DSO"}},
			)
		}
	}
	for i := range updates {
		u := []model.Update{updates[i]}
		got := tr.Process(u)
		want := tr.Apply(ReadingOf(&u[0]))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("update %d %+v:\nProcess %+v\nApply   %+v", i, u[0], got, want)
		}
	}
}
