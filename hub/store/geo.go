package store

import (
	"math"
	"sort"

	"github.com/gridedge/gridedge/shared/model"
)

// EarthRadius is the sphere radius in metres that Near uses, the one
// MongoDB uses to convert $nearSphere/$maxDistance metres (6378.1 km), so
// that both backends agree.
const EarthRadius = 6378100.0

// Haversine returns the great-circle distance in metres between two
// (lon, lat) points in degrees on a sphere of radius EarthRadius.
func Haversine(lon1, lat1, lon2, lat2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

// GeometryDistance returns the distance in metres from (lon, lat) to the
// GeoJSON geometry of doc (field "geometry"): to a Point its position, to
// LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon and
// GeometryCollection the nearest vertex. ok is false when doc has no
// usable geometry.
func GeometryDistance(doc Document, lon, lat float64) (d float64, ok bool) {
	g, _ := doc["geometry"].(map[string]any)
	if g == nil {
		return 0, false
	}
	return geometryDistance(g, lon, lat, 0)
}

func geometryDistance(g map[string]any, lon, lat float64, depth int) (float64, bool) {
	if depth > 4 {
		return 0, false
	}
	if g["type"] == "GeometryCollection" {
		gs, _ := g["geometries"].([]any)
		best, found := math.Inf(1), false
		for _, e := range gs {
			if m, ok := e.(map[string]any); ok {
				if d, ok := geometryDistance(m, lon, lat, depth+1); ok && d < best {
					best, found = d, true
				}
			}
		}
		return best, found
	}
	levels := map[any]int{"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
	level, known := levels[g["type"]]
	if !known {
		return 0, false
	}
	best, found := math.Inf(1), false
	var visit func(v any, level int)
	visit = func(v any, level int) {
		arr, ok := v.([]any)
		if !ok {
			return
		}
		if level == 0 {
			if len(arr) < 2 {
				return
			}
			x, ok1 := model.Float(arr[0])
			y, ok2 := model.Float(arr[1])
			if !ok1 || !ok2 {
				return
			}
			if d := Haversine(lon, lat, x, y); d < best {
				best, found = d, true
			}
			return
		}
		for _, e := range arr {
			visit(e, level-1)
		}
	}
	visit(g["coordinates"], level)
	return best, found
}

// FinishNear keeps the documents within maxMeters of (lon, lat), orders
// them nearest first (ties by _id) unless opts.Sort is given, and applies
// opts.Skip, Limit and Projection. Backends call it on the documents that
// match opts.Selector.
func FinishNear(docs []Document, lon, lat, maxMeters float64, opts FindOptions) []Document {
	type hit struct {
		doc Document
		d   float64
	}
	hits := make([]hit, 0, len(docs))
	for _, doc := range docs {
		if d, ok := GeometryDistance(doc, lon, lat); ok && d <= maxMeters {
			hits = append(hits, hit{doc, d})
		}
	}
	if opts.Sort != nil {
		out := make([]Document, len(hits))
		for i, h := range hits {
			out[i] = h.doc
		}
		return Page(out, opts, true)
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].d != hits[j].d {
			return hits[i].d < hits[j].d
		}
		a, _ := hits[i].doc[FieldID].(string)
		b, _ := hits[j].doc[FieldID].(string)
		return a < b
	})
	out := make([]Document, len(hits))
	for i, h := range hits {
		out[i] = h.doc
	}
	return Page(out, opts, false)
}
