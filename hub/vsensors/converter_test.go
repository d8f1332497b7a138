package vsensors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/convert"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// TestOutputConverter: a sensor named in converters has its output passed
// through the stored transformation (JavaScript here) before it is
// written; a converter that fails marks the output bad; the other sensors
// are unaffected.
func TestOutputConverter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := convert.NewRegistry(e.raw, convert.Config{Enabled: true}, nil)
	if err := reg.EnsureCollection(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := e.raw.Insert(ctx, "converters", "transformations", []store.Document{
		{"_id": "to-watts", "code": "(d) => { d.measurements.p.value = d.measurements.p.value * 1000; d.measurements.p.unit = 'W'; d.source = 'converted ' + d._id; return d; }"},
		{"_id": "broken", "code": "(d) => { throw new Error('no way'); }"},
	})
	if err != nil || res.Err > 0 {
		t.Fatal(err, res.Errors)
	}
	e.converter = reg
	var cfg Config
	if err := jsonInto(&cfg, `{"converters": {"gridflex_loads.KW": "to-watts", "gridflex_loads.BAD": "broken"},
	"settings": {"sensors": [{"collection": "gridflex_loads", "virtualsensors": [
		{"id": "KW", "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value} / 1000", "quality": 1}}}},
		{"id": "BAD", "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value}", "quality": 1}}}},
		{"id": "PLAIN", "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value} + 1", "quality": 1}}}}
	]}]}}`); err != nil {
		t.Fatal(err)
	}
	s := e.start(cfg, "hub1")
	e.put("G1", time.Now(), map[string]float64{"p": 2500})
	e.waitFor("KW converted", func() bool { return near(measurement(e.get("gridflex", "loads", "KW"), "p")["value"], 2500) })
	kw := e.get("gridflex", "loads", "KW")
	if m := measurement(kw, "p"); m["unit"] != "W" || m["virtual"] != true || !near(m["quality"], 1) || kw["source"] != "converted KW" {
		t.Errorf("KW = %v", kw)
	}
	e.waitFor("PLAIN", func() bool { return near(measurement(e.get("gridflex", "loads", "PLAIN"), "p")["value"], 2501) })
	e.waitFor("BAD marked bad", func() bool {
		return near(measurement(e.get("gridflex", "loads", "BAD"), "p")["quality"], 0)
	})
	if m := measurement(e.get("gridflex", "loads", "BAD"), "p"); m["value"] != nil {
		t.Errorf("BAD written despite its converter failing: %v", m)
	}
	if st := s.Stats(); st.ConvertErrors != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestConvertersConfig(t *testing.T) {
	settings := `"settings": {"sensors": [{"collection": "gridflex_loads", "virtualsensors": [
		{"id": "KW", "template": {"n": "{gridflex_generators.G1>measurements.p.value}"}}]}]}`
	tests := []struct {
		name, cfg string
		want      string // "" : valid
	}{
		{"named sensor", `{"enabled": true, "converters": {"gridflex_loads.KW": "x"}, ` + settings + `}`, ""},
		{"unknown sensor", `{"enabled": true, "converters": {"gridflex_loads.NOPE": "x"}, ` + settings + `}`,
			`services.vsensors.converters: "gridflex_loads.NOPE" is not a virtual sensor of the settings (<layer>_<collection>.<id>: gridflex_loads.KW)`},
		{"empty id", `{"enabled": true, "converters": {"gridflex_loads.KW": " "}, ` + settings + `}`, "the converter id is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := jsonInto(&c, tt.cfg); err != nil {
				t.Fatal(err)
			}
			c.Defaults()
			var es config.Errors
			c.Validate("services.vsensors", &es)
			err := es.Err()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	var c Config
	if err := jsonInto(&c, `{"converters": {"gridflex_loads.KW": "x"}, `+settings+`}`); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: c}); err == nil || !strings.Contains(err.Error(), "needs the converters service") {
		t.Errorf("New without a converter: %v", err)
	}
}
