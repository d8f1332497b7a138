package store

import (
	"math"
	"reflect"
	"testing"

	"github.com/gridedge/gridedge/hub/store/query"
)

// deg is the length in metres of one degree of a great circle.
const deg = EarthRadius * math.Pi / 180

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*math.Max(1, math.Abs(b)) }

func TestHaversine(t *testing.T) {
	tests := []struct {
		name                   string
		lon1, lat1, lon2, lat2 float64
		want                   float64
	}{
		{"same point", 4.35, 50.85, 4.35, 50.85, 0},
		{"one degree of longitude at the equator", 0, 0, 1, 0, deg},
		{"one degree of latitude", 10, 45, 10, 46, deg},
		{"pole to pole", 0, 90, 0, -90, 180 * deg},
		{"antipodes", 0, 0, 180, 0, 180 * deg},
		{"across the antimeridian", 179.5, 0, -179.5, 0, deg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Haversine(tt.lon1, tt.lat1, tt.lon2, tt.lat2)
			if !near(got, tt.want) {
				t.Errorf("Haversine(%v, %v, %v, %v) = %v, want %v", tt.lon1, tt.lat1, tt.lon2, tt.lat2, got, tt.want)
			}
			if back := Haversine(tt.lon2, tt.lat2, tt.lon1, tt.lat1); !near(back, got) {
				t.Errorf("not symmetric: %v one way, %v the other", got, back)
			}
		})
	}
}

func TestGeometryDistance(t *testing.T) {
	pt := func(lon, lat any) []any { return []any{lon, lat} }
	geo := func(typ string, coords any) Document {
		return Document{"geometry": map[string]any{"type": typ, "coordinates": coords}}
	}
	tests := []struct {
		name   string
		doc    Document
		want   float64
		wantOK bool
	}{
		{"point", geo("Point", pt(0.0, 0.0)), 0, true},
		{"point with integer coordinates", geo("Point", pt(1, int64(0))), deg, true},
		{"multipoint: nearest", geo("MultiPoint", []any{pt(3.0, 0.0), pt(2.0, 0.0)}), 2 * deg, true},
		{"linestring: nearest vertex", geo("LineString", []any{pt(0.0, 5.0), pt(0.0, 1.0)}), deg, true},
		{"polygon: nearest vertex", geo("Polygon", []any{[]any{pt(3.0, 3.0), pt(0.0, 3.0), pt(3.0, 4.0), pt(3.0, 3.0)}}), 3 * deg, true},
		{"polygon around the point: by vertex", geo("Polygon", []any{[]any{pt(-1.0, -1.0), pt(1.0, -1.0), pt(0.0, 1.0), pt(-1.0, -1.0)}}), deg, true},
		{"multipolygon", geo("MultiPolygon", []any{[]any{[]any{pt(0.0, 4.0), pt(0.0, 5.0)}}, []any{[]any{pt(0.0, -1.0)}}}), deg, true},
		{"geometry collection", Document{"geometry": map[string]any{"type": "GeometryCollection", "geometries": []any{
			map[string]any{"type": "Point", "coordinates": pt(0.0, 2.0)},
			map[string]any{"type": "LineString", "coordinates": []any{pt(0.0, 1.0)}},
		}}}, deg, true},
		{"no geometry", Document{"x": 1.0}, 0, false},
		{"unknown type", geo("Circle", pt(0.0, 0.0)), 0, false},
		{"no coordinates", Document{"geometry": map[string]any{"type": "Point"}}, 0, false},
		{"short position", geo("Point", []any{1.0}), 0, false},
		{"string coordinates", geo("Point", pt("0", "0")), 0, false},
		{"wrong nesting", geo("LineString", pt(0.0, 0.0)), 0, false},
		{"empty collection", Document{"geometry": map[string]any{"type": "GeometryCollection", "geometries": []any{}}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := GeometryDistance(tt.doc, 0, 0)
			if ok != tt.wantOK || (ok && !near(got, tt.want)) {
				t.Errorf("GeometryDistance = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// A geometry collection nested deeper than GeometryDistance follows is
// ignored rather than walked without end.
func TestGeometryDistanceDepth(t *testing.T) {
	g := map[string]any{"type": "Point", "coordinates": []any{0.0, 0.0}}
	for range 6 {
		g = map[string]any{"type": "GeometryCollection", "geometries": []any{g}}
	}
	if d, ok := GeometryDistance(Document{"geometry": g}, 0, 0); ok {
		t.Errorf("GeometryDistance of a 6-deep collection = %v, true; want false", d)
	}
}

func TestFinishNear(t *testing.T) {
	at := func(id string, lon float64, extra float64) Document {
		return Document{FieldID: id, "rank": extra, "geometry": map[string]any{"type": "Point", "coordinates": []any{lon, 0.0}}}
	}
	docs := func() []Document {
		return []Document{at("far", 3, 1), at("b", 1, 2), at("a", 1, 3), at("near", 0.5, 4), at("out", 10, 5), {FieldID: "nogeo"}}
	}
	tests := []struct {
		name string
		max  float64
		opts FindOptions
		want []string
	}{
		{"nearest first, ties by _id", 5 * deg, FindOptions{}, []string{"near", "a", "b", "far"}},
		{"within max", 1.5 * deg, FindOptions{}, []string{"near", "a", "b"}},
		{"skip and limit", 5 * deg, FindOptions{Skip: 1, Limit: 2}, []string{"a", "b"}},
		{"sort given", 5 * deg, FindOptions{Sort: query.SortSpec{{Field: "rank", Desc: true}}}, []string{"near", "a", "b", "far"}},
		{"sort given, by rank", 5 * deg, FindOptions{Sort: query.SortSpec{{Field: "rank"}}}, []string{"far", "b", "a", "near"}},
		{"none within", 0.1 * deg, FindOptions{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FinishNear(docs(), 0, 0, tt.max, tt.opts)
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}
