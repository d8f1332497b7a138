package iot

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/convert"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// TestConverterBeforeMapping: a config group named in iot.converters has
// each measurement object passed through the stored transformation (a
// seed-style template and a JavaScript function) before its attributes
// map it; a converter that throws is WRONG_SYNTAX, a missing one an
// internal error; other groups are untouched.
func TestConverterBeforeMapping(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	reg := convert.NewRegistry(h.st, convert.Config{Enabled: true}, nil)
	if err := reg.EnsureCollection(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := h.st.Insert(ctx, "converters", "transformations", []store.Document{
		// a vendor's {"T": {"dC": 215}} becomes the group's {"t": 215}
		{"_id": "vendor", "template": map[string]any{"t": "{{T.dC}}", "hum": "=> pct(H)"},
			"functions": map[string]any{"pct": "(h) => h * 100"}},
		{"_id": "picky", "code": "(d) => { if (d.v < 0) throw new Error('negative reading'); return d; }"},
	})
	if err != nil || res.Err > 0 {
		t.Fatal(err, res.Errors)
	}
	hd := h.fiware("plant", "/")
	h.must(200, "POST", PathServices, `{"services":[
	 {"apikey":"k1","resource":"/iot/json","entity_type":"Thing","attributes":[{"object_id":"t","name":"temperature","type":"Number","expression":"t / 10"}]},
	 {"apikey":"k2","resource":"/iot/json","entity_type":"Thing"},
	 {"apikey":"k3","resource":"/iot/json","entity_type":"Thing"},
	 {"apikey":"k4","resource":"/iot/json","entity_type":"Thing"}]}`, hd)

	cfg := h.cfg
	cfg.Converters = map[string]string{"k1@/iot/json": "vendor", "k2": "picky", "k3": "gone"}
	svc, err := New(ctx, Options{Config: cfg, Store: h.st, Now: h.clock.Now, Converter: reg})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, apikey, device, payload string
		wantErr                       string // "" : stored
		check                         func(doc store.Document) bool
	}{
		{"template and function", "k1", "d1", `{"T":{"dC":215},"H":0.4}`, "", func(d store.Document) bool {
			return h.value("plant", "Thing", "Thing:d1", "temperature") == 21.5 && h.value("plant", "Thing", "Thing:d1", "hum") == 40.0
		}},
		{"an array: each object", "k1", "d2", `[{"T":{"dC":100}},{"T":{"dC":110}}]`, "", func(store.Document) bool {
			return h.value("plant", "Thing", "Thing:d2", "temperature") == 11.0
		}},
		{"code passes", "k2", "d3", `{"v":3}`, "", func(store.Document) bool { return h.value("plant", "Thing", "Thing:d3", "v") == 3.0 }},
		{"code throws", "k2", "d4", `{"v":-1}`, `WRONG_SYNTAX: Wrong syntax in request: converter "picky" refused measurement 0`, nil},
		{"missing converter", "k3", "d5", `{"v":1}`, `INTERNAL_ERROR: converter of apikey k3: converter not found: no transformation "gone"`, nil},
		{"no converter", "k4", "d6", `{"T":1}`, "", func(store.Document) bool { return h.value("plant", "Thing", "Thing:d6", "T") == 1.0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := svc.Ingest(ctx, Reading{APIKey: tt.apikey, Resource: "/iot/json", DeviceID: tt.device, Payload: []byte(tt.payload)})
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(nil) {
				t.Errorf("stored %v", h.doc("plant", "Thing", "Thing:"+tt.device))
			}
		})
	}
	// without the converters service, a named converter is an internal error
	off, err := New(ctx, Options{Config: cfg, Store: h.st, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Ingest(ctx, Reading{APIKey: "k2", Resource: "/iot/json", DeviceID: "d7", Payload: []byte(`{"v":1}`)}); err == nil ||
		!strings.Contains(err.Error(), "the converters service is off") {
		t.Errorf("converters off: %v", err)
	}
}

func TestConvertersConfig(t *testing.T) {
	tests := []struct {
		convs map[string]string
		want  string
	}{
		{map[string]string{"k1": "x", "k1@/iot/json": "y"}, ""},
		{map[string]string{"@/iot/json": "x"}, `iot.converters: "@/iot/json" is not <apikey> or <apikey>@<resource>`},
		{map[string]string{"k1@iot": "x"}, `"k1@iot" is not <apikey> or <apikey>@<resource>`},
		{map[string]string{"k1": ""}, `"k1": the converter id is empty`},
	}
	for _, tt := range tests {
		c := Config{Enabled: true, Converters: tt.convs}
		c.Defaults()
		var es config.Errors
		c.Validate("iot", &es)
		err := es.Err()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%v: got %v, want %q", tt.convs, err, tt.want)
		}
	}
}
