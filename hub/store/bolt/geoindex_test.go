package bolt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// TestNearIndexMatchesScan runs the same Near queries on a collection with
// a 2dsphere index and on one without, and wants the same answers.
func TestNearIndexMatchesScan(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	geo := store.Index{Fields: store.IndexFields{{Path: "geometry", Geo: true}}}
	l := store.Layer{ID: "g", Collections: []store.Collection{{Name: "ix", Indexes: []store.Index{geo}}, {Name: "scan"}}}
	if err := s.PutLayer(ctx, l); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var docs []store.Document
	for i := range 3000 {
		var g map[string]any
		// clustered points, some spread over the globe, near the poles and
		// the antimeridian, and a few lines
		lon, lat := 8+rng.Float64()*0.5, 47+rng.Float64()*0.5
		switch i % 10 {
		case 7:
			lon, lat = rng.Float64()*360-180, rng.Float64()*180-90
		case 8:
			lon, lat = 179.9+rng.Float64()*0.2, rng.Float64()*2-1
			if lon > 180 {
				lon -= 360
			}
		case 9:
			lon, lat = rng.Float64()*360-180, 89.5+rng.Float64()*0.5
		}
		g = map[string]any{"type": "Point", "coordinates": []any{lon, lat}}
		if i%50 == 0 {
			g = map[string]any{"type": "LineString", "coordinates": []any{[]any{lon, lat}, []any{lon + 0.3, lat + 0.1}}}
		}
		docs = append(docs, store.Document{"_id": fmt.Sprintf("p%04d", i), "geometry": g, "k": float64(i % 4)})
	}
	for _, col := range []string{"ix", "scan"} {
		if _, err := s.Insert(ctx, "g", col, docs); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		lon, lat, max float64
		limit, skip   int
	}{
		{8.2, 47.2, 500, 10, 0},
		{8.2, 47.2, 5000, 20, 5},
		{8.2, 47.2, 1e6, 0, 0},
		{-179.95, 0, 50000, 10, 0},
		{180, 0.5, 20000, 5, 0},
		{0, 89.9, 200000, 10, 0},
		{100, -30, 2e7, 3, 0},
		{100, -30, 10, 3, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v,%v within %v limit %d", tt.lon, tt.lat, tt.max, tt.limit), func(t *testing.T) {
			o := store.FindOptions{Limit: tt.limit, Skip: tt.skip, Selector: sel(t, `{"k": {"$ne": 3}}`)}
			want, err := s.Near(ctx, "g", "scan", tt.lon, tt.lat, tt.max, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Near(ctx, "g", "ix", tt.lon, tt.lat, tt.max, o)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != ids(want) {
				t.Errorf("with the index: %s\nwant (scan):     %s", ids(got), ids(want))
			}
		})
	}
}

func sel(t *testing.T, js string) *query.Selector {
	t.Helper()
	s, err := query.ParseSelector([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ids(docs []store.Document) string {
	out := ""
	for i, d := range docs {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprint(d["_id"])
	}
	return out
}
