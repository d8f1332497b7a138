package api

import (
	"context"
	"testing"

	"github.com/gridedge/gridedge/hub/convert"
	"github.com/gridedge/gridedge/hub/store"
)

func TestConverterTestRoute(t *testing.T) {
	var reg *convert.Registry
	e := newEnv(t, func(s *Server) {
		reg = convert.NewRegistry(s.Store, convert.Config{}, nil)
		s.Converters = reg
	})
	ctx := context.Background()
	if err := reg.EnsureCollection(ctx); err != nil {
		t.Fatal(err)
	}
	// the seed's two documents (3.2.3), stored through the collection
	// routes of the converters layer
	e.must("POST", "/converters/transformations", []any{
		map[string]any{"_id": "by-template", "template": map[string]any{"id": "{{id}}", "date": "=> toISO(timestamp)",
			"measurements": map[string]any{"activeEnergyExported": map[string]any{"timestamp": "{{timestamp}}", "value": "{{AEexp}}"}}},
			"functions": map[string]any{"toISO": "(ts) => { return new Date(ts).toISOString(); }"}},
		map[string]any{"_id": "by-function", "code": "(d) => { d.newField = 'myData'; return d; }"},
		map[string]any{"_id": "loops", "code": "(d) => { for (;;) {} }"},
		map[string]any{"_id": "broken", "code": "(d) => {"},
	}, e.admin)
	writer := e.addUser("writer", map[string]Perm{convert.DefaultLayer: PermWrite})
	reader := e.addUser("reader", map[string]Perm{convert.DefaultLayer: PermRead})

	res := e.must("POST", "/converters/by-template/test", map[string]any{"id": "SM001", "timestamp": 1606041000000, "AEexp": 12.5}, writer)
	jsonEq(t, "template", res, map[string]any{"status": "success", "data": map[string]any{"id": "SM001", "date": "2020-11-22T10:30:00.000Z",
		"measurements": map[string]any{"activeEnergyExported": map[string]any{"timestamp": 1606041000000, "value": 12.5}}}})
	res = e.must("POST", "/converters/by-function/test", map[string]any{"a": 1}, e.admin)
	jsonEq(t, "code", res, map[string]any{"status": "success", "data": map[string]any{"a": 1, "newField": "myData"}})

	tests := []struct {
		name   string
		path   string
		body   any
		c      cred
		status int
		msg    string
	}{
		{"unknown", "/converters/nope/test", map[string]any{}, writer, 404, `no transformation "nope" in converters/transformations`},
		{"script error", "/converters/by-template/test", map[string]any{"id": "x"}, writer, 422, "template.date: converter script failed: toISO: RangeError: Invalid time value"},
		{"time budget", "/converters/loops/test", map[string]any{}, writer, 422, "converter call exceeded its time budget: code ran longer than 100ms"},
		{"does not compile", "/converters/broken/test", map[string]any{}, writer, 422, `invalid converter "broken": code does not compile`},
		{"not an object", "/converters/by-function/test", "[1]", writer, 400, "invalid JSON body"},
		{"read grant only", "/converters/by-function/test", map[string]any{}, reader, 403, `may only read layer "converters"`},
		{"anonymous", "/converters/by-function/test", map[string]any{}, noCred, 401, "credentials required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.wantError("POST", tt.path, tt.body, tt.c, tt.status, tt.msg)
		})
	}
}

func TestConverterRouteOff(t *testing.T) {
	e := newEnv(t)
	e.wantError("POST", "/converters/x/test", map[string]any{}, e.admin, 404, "services.converters.enabled")
	// the converters layer is not reserved: its collections are served
	if ReservedLayer(ConvertersLayer) {
		t.Errorf("ReservedLayer(%q) = true", ConvertersLayer)
	}
	if err := e.st.PutLayer(context.Background(), store.Layer{ID: ConvertersLayer, Collections: []store.Collection{{Name: "transformations"}}}); err != nil {
		t.Fatal(err)
	}
	e.must("POST", "/converters/transformations", map[string]any{"_id": "x", "code": "(d) => d"}, e.admin)
	e.must("GET", "/converters/transformations/x", nil, e.admin)
}
