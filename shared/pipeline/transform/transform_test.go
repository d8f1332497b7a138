package transform

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// decode reads a provisioning document strictly, as the agent config would.
func decode(t *testing.T, doc string) *Transformer {
	t.Helper()
	var c Config
	if err := config.Decode([]byte(doc), &c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	tr, err := New(&c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

var dev = Document{Layer: "waste", Collection: "containers", ID: "45"}

// values returns doc -> measurement name -> value of updates, for comparison.
func values(us []model.Update) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, u := range us {
		m := map[string]any{}
		for k, v := range u.Set {
			if mv, ok := v.(model.Measurement); ok {
				m[k] = mv.Value
			} else if k != model.MeasurementsTimestampField {
				m[k] = v
			}
		}
		out[u.Layer+"_"+u.Collection+"."+u.ID] = m
	}
	return out
}

func check(t *testing.T, got []model.Update, want map[string]map[string]any) {
	t.Helper()
	g := values(got)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("got  %s\nwant %s", gb, wb)
	}
}

// TestSeedDefinition is the seed's "Measurement transformation definition"
// device (WasteContainer:WC45).
func TestSeedDefinition(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"45","entity_name":"WasteContainer:WC45","entity_type":"waste_WasteContainer","attributes":[
		{"name":"location","type":"geo:json","expression":"{coordinates: [longitude,latitude], type: 'Point'}"},
		{"name":"fillingLevel","type":"Number","expression":"level / 100"},
		{"name":"level","type":"Number"},{"name":"latitude","type":"Number"},{"name":"longitude","type":"Number"}]}]}`)
	got := tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"level": 85.3, "latitude": 40.4, "longitude": -3.7}})
	check(t, got, map[string]map[string]any{"waste_WasteContainer.WasteContainer:WC45": {
		"measurements.fillingLevel": 0.853, "measurements.latitude": 40.4, "measurements.level": 85.3,
		"measurements.location": map[string]any{"coordinates": []any{-3.7, 40.4}, "type": "Point"}, "measurements.longitude": -3.7,
	}})
}

// TestSeedExecution is the seed's "Measurement transformation execution"
// example: only the expression whose variables are all present runs.
func TestSeedExecution(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"45","attributes":[
		{"name":"location","type":"geo:point","expression":"longitude+', '+latitude"},
		{"name":"fillingLevel","type":"Number","expression":"level / 100"}]}]}`)
	got := tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"latitude": 1.9, "level": 85.3}})
	check(t, got, map[string]map[string]any{"waste_containers.45": {
		"measurements.fillingLevel": 0.853, "measurements.latitude": 1.9, "measurements.level": 85.3,
	}})
	got = tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"latitude": 1.9, "longitude": 3}})
	check(t, got, map[string]map[string]any{"waste_containers.45": {
		"measurements.latitude": 1.9, "measurements.location": "3, 1.9", "measurements.longitude": 3.0,
	}})
}

// TestSeedSpacesTrim is the seed's consumption / "spaces | trim" example.
func TestSeedSpacesTrim(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"45","explicitAttrs":true,"attributes":[{"name":"consumption","type":"String","expression":"spaces | trim"}]}]}`)
	check(t, tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"consumption": "0.44"}}),
		map[string]map[string]any{"waste_containers.45": {"measurements.consumption": "0.44"}})
	check(t, tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"consumption": "0.44", "spaces": " foobar "}}),
		map[string]map[string]any{"waste_containers.45": {"measurements.consumption": "foobar"}})
}

// TestSeedMultientityObjectID is the seed's WeatherStation example
// (object_id in the expression context, one reading, three documents).
func TestSeedMultientityObjectID(t *testing.T) {
	tr := decode(t, `{"groups":[{"entity_type":"meteo_WeatherStation","attributes":[
		{"object_id":"v1","name":"vol","expression":"v1*100","type":"Number","entity_name":"WeatherStation1"},
		{"object_id":"v2","name":"vol","expression":"v2*100","type":"Number","entity_name":"WeatherStation2"},
		{"object_id":"v","name":"vol","expression":"v*100","type":"Number"}]}]}`)
	got := tr.Apply(&Reading{Device: Document{Layer: "meteo", Collection: "WeatherStation", ID: "ws9"}, TS: t0, Values: map[string]any{"v": 0, "v1": 1, "v2": 2}})
	check(t, got, map[string]map[string]any{
		"meteo_WeatherStation.ws9":             {"measurements.vol": 0.0},
		"meteo_WeatherStation.WeatherStation1": {"measurements.vol": 100.0},
		"meteo_WeatherStation.WeatherStation2": {"measurements.vol": 200.0},
	})
	if got[0].ID != "ws9" {
		t.Errorf("first update is %s, want the device's document", got[0].ID)
	}
}

// TestSeedMultientity is the seed's contador12 example.
func TestSeedMultientity(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"contador12","entity_name":"urn:ngsi-ld:Device:contador12","entity_type":"water_multientity","attributes":[
		{"object_id":"cont1","name":"vol","type":"Text","entity_name":"urn:ngsi-ld:Device:WaterMeterSoria01","entity_type":"WaterMeter"},
		{"object_id":"cont2","name":"vol","type":"Text","entity_name":"urn:ngsi-ld:Device:WaterMeterSoria02","entity_type":"WaterMeter"},
		{"object_id":"cont3","name":"vol","type":"Text","entity_name":"urn:ngsi-ld:Device:WaterMeterSoria03","entity_type":"WaterMeter"}]}]}`)
	got := tr.Apply(&Reading{Device: Document{Layer: "water", Collection: "meters", ID: "contador12"}, TS: t0, Values: map[string]any{"cont1": "1", "cont2": "2", "cont3": "3"}})
	check(t, got, map[string]map[string]any{
		"water_WaterMeter.urn:ngsi-ld:Device:WaterMeterSoria01": {"measurements.vol": "1"},
		"water_WaterMeter.urn:ngsi-ld:Device:WaterMeterSoria02": {"measurements.vol": "2"},
		"water_WaterMeter.urn:ngsi-ld:Device:WaterMeterSoria03": {"measurements.vol": "3"},
	})
}

func TestEntityNameExpression(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"45","attributes":[{"object_id":"t","name":"temp","entity_name":"'room-' + room"}]}]}`)
	check(t, tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"t": 21.5, "room": 7}}), map[string]map[string]any{
		"waste_containers.45":     {"measurements.room": 7},
		"waste_containers.room-7": {"measurements.temp": 21.5},
	})
}

// TestExplicitAttrs covers the seed's five explicitAttrs cases.
func TestExplicitAttrs(t *testing.T) {
	attrs := `"attributes":[{"object_id":"a","name":"attr1"},{"object_id":"b","name":"attr2"},{"object_id":"c","name":"active_attr"}],
	  "static_attributes":[{"name":"nominal","type":"Number","value":230}]`
	reading := &Reading{Device: dev, TS: t0, Values: map[string]any{"a": 1, "b": 2, "c": 3, "extra": 4, "sel": true}}
	all := map[string]any{"measurements.attr1": 1, "measurements.attr2": 2, "measurements.active_attr": 3, "measurements.extra": 4, "measurements.sel": true, "nominal": 230.0}
	defined := map[string]any{"measurements.attr1": 1, "measurements.attr2": 2, "measurements.active_attr": 3, "nominal": 230.0}
	for _, tc := range []struct {
		name, explicit string
		want           map[string]any
	}{
		{"absent", ``, all},
		{"case 1 false", `"explicitAttrs": false,`, all},
		{"case 2 true", `"explicitAttrs": true,`, defined},
		{"case 3 expression array", `"explicitAttrs": "['attr1','attr2']",`, map[string]any{"measurements.attr1": 1, "measurements.attr2": 2}},
		{"case 3 JSON array", `"explicitAttrs": ["attr1","nominal"],`, map[string]any{"measurements.attr1": 1, "nominal": 230.0}},
		{"case 4 object_id", `"explicitAttrs": "['attr1',{object_id:'c'}]",`, map[string]any{"measurements.attr1": 1, "measurements.active_attr": 3}},
		{"case 5 expression true", `"explicitAttrs": "sel ? true : false",`, all},
		{"case 5 expression false", `"explicitAttrs": "!sel",`, defined},
		{"case 5 expression array", `"explicitAttrs": "sel ? ['attr2'] : true",`, map[string]any{"measurements.attr2": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := decode(t, `{"devices":[{"device_id":"45",`+tc.explicit+attrs+`}]}`)
			check(t, tr.Apply(reading), map[string]map[string]any{"waste_containers.45": tc.want})
		})
	}
}

func TestSkipValue(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"45","explicitAttrs":true,"attributes":[
		{"name":"a","expression":"x > 0 ? x : 'null'|jsonparse"},
		{"name":"b","expression":"x > 0 ? 'ok' : 'skip'","skipValue":"skip"},
		{"name":"c","expression":"x * 2","skipValue":0}]}]}`)
	check(t, tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"x": 5}}),
		map[string]map[string]any{"waste_containers.45": {"measurements.a": 5.0, "measurements.b": "ok", "measurements.c": 10.0}})
	if got := tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"x": 0}}); len(got) != 0 {
		t.Errorf("got %+v, want every attribute skipped", values(got))
	}
}

func TestGroupAndDeviceMerge(t *testing.T) {
	tr := decode(t, `{
	  "groups":[{"entity_type":"grid_meters","explicitAttrs":true,
	    "attributes":[{"object_id":"u","name":"voltage","expression":"u / 10"},{"object_id":"i","name":"current"}],
	    "static_attributes":[{"name":"nominalVoltage","value":230},{"name":"owner","value":"DSO"}]}],
	  "devices":[{"device_id":"M2","attributes":[{"object_id":"u","name":"voltage","expression":"u / 100"}],
	    "static_attributes":[{"name":"nominalVoltage","value":400}]}]}`)
	r := func(id string) *Reading {
		return &Reading{Device: Document{Layer: "grid", Collection: "meters", ID: id}, TS: t0, Values: map[string]any{"u": 2300, "i": 5, "x": 1}}
	}
	check(t, tr.Apply(r("M1")), map[string]map[string]any{"grid_meters.M1": {"measurements.current": 5, "measurements.voltage": 230.0, "nominalVoltage": 230.0, "owner": "DSO"}})
	check(t, tr.Apply(r("M2")), map[string]map[string]any{"grid_meters.M2": {"measurements.current": 5, "measurements.voltage": 23.0, "nominalVoltage": 400.0, "owner": "DSO"}})
	// no mapping: everything under its own name
	check(t, tr.Apply(&Reading{Device: Document{Layer: "grid", Collection: "other", ID: "X"}, TS: t0, Values: map[string]any{"u": 1}}),
		map[string]map[string]any{"grid_other.X": {"measurements.u": 1}})
}

// TestProcessModbusReading runs the pipeline stage on a poller update:
// quality and timestamps follow the measures, unmapped documents pass.
func TestProcessModbusReading(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"TSO","explicitAttrs":true,"attributes":[
		{"name":"apparentPower","expression":"(activePower^2 + reactivePower^2)^0.5"},{"name":"activePower"}]}]}`)
	t1 := t0.Add(time.Second)
	in := []model.Update{
		model.MeasurementUpdate("gridflex", "generators", "TSO", t1, map[string]model.Measurement{
			"activePower":   {Value: 3.0, Quality: model.QualityGood, Timestamp: t0},
			"reactivePower": {Value: 4.0, Quality: model.QualitySuspect, Timestamp: t1},
		}),
		model.MeasurementUpdate("gridflex", "generators", "PV1", t1, map[string]model.Measurement{"activePower": {Value: 1.0, Quality: 1, Timestamp: t1}}),
	}
	out := tr.Process(in)
	if len(out) != 2 || !reflect.DeepEqual(out[1], in[1]) {
		t.Fatalf("got %+v", out)
	}
	want := model.MeasurementUpdate("gridflex", "generators", "TSO", t1, map[string]model.Measurement{
		"activePower":   {Value: 3.0, Quality: model.QualityGood, Timestamp: t0},
		"apparentPower": {Value: 5.0, Quality: model.QualitySuspect, Timestamp: t1},
	})
	if !reflect.DeepEqual(out[0], want) {
		t.Errorf("got  %+v\nwant %+v", out[0], want)
	}
	if err := out[0].Validate(); err != nil {
		t.Error(err)
	}
	unmapped := in[1:]
	if got := tr.Process(unmapped); &got[0] != &unmapped[0] {
		t.Errorf("unmapped updates were copied")
	}
}

func TestRuntimeErrorDropsAttribute(t *testing.T) {
	tr := decode(t, `{"devices":[{"device_id":"45","explicitAttrs":true,"attributes":[{"name":"j","expression":"s|jsonparse"},{"name":"s"}]}]}`)
	check(t, tr.Apply(&Reading{Device: dev, TS: t0, Values: map[string]any{"s": "{"}}), map[string]map[string]any{"waste_containers.45": {"measurements.s": "{"}})
	if tr.Stats().Errors != 1 {
		t.Errorf("stats %+v, want 1 error", tr.Stats())
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"devices":[{"device_id":"a","attributes":[{"name":"x","expression":"1 +"}]}]}`, "devices[0].attributes[0].expression: expression:"},
		{`{"devices":[{"device_id":"a","attributes":[{"name":""}]}]}`, "devices[0].attributes[0].name: is required"},
		{`{"devices":[{"device_id":"a","attributes":[{"name":"a.b"}]}]}`, "contains '.'"},
		{`{"devices":[{"device_id":"a"},{"device_id":"a"}]}`, `devices[1].device_id: "a" is provisioned twice`},
		{`{"devices":[{"attributes":[]}]}`, "devices[0].device_id: is required"},
		{`{"groups":[{"entity_type":""}]}`, "groups[0].entity_type"},
		{`{"devices":[{"device_id":"a","explicitAttrs":"[1,"}]}`, "devices[0].explicitAttrs: expression:"},
		{`{"devices":[{"device_id":"a","explicitAttrs":"42"}]}`, "want a boolean or an array"},
		{`{"devices":[{"device_id":"a","static_attributes":[{"name":"measurementsTimestamp","value":1}]}]}`, "is reserved"},
	} {
		var c Config
		if err := config.Decode([]byte(tc.doc), &c); err != nil {
			t.Errorf("decode %s: %v", tc.doc, err)
			continue
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.doc, err, tc.want)
		}
	}
	var c Config
	if err := config.Decode([]byte(`{"devices":[{"device_id":"a","explicitAttrs":3}]}`), &c); err == nil || !strings.Contains(err.Error(), "devices[0].explicitAttrs: want true, false") {
		t.Errorf("explicitAttrs number: %v", err)
	}
	if err := config.Decode([]byte(`{"devices":[{"device_id":"a","attributes":[{"name":"x","objectId":"y"}]}]}`), &c); err == nil || !strings.Contains(err.Error(), "objectId: unknown field") {
		t.Errorf("unknown key: %v", err)
	}
}
