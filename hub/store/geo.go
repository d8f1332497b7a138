package store

import (
	"math"
	"sort"

	"github.com/gridedge/gridedge/hub/store/query"
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
			x, ok1 := number(arr[0])
			y, ok2 := number(arr[1])
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

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
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

// Page applies opts to documents that already match opts.Selector: sorts
// them when sorted is true (by opts.Sort then _id, or by _id), then skips,
// limits and projects. It returns a non-nil slice.
func Page(docs []Document, opts FindOptions, sorted bool) []Document {
	if sorted {
		SortDocs(docs, opts.Sort)
	}
	if opts.Skip > 0 {
		if opts.Skip >= len(docs) {
			docs = nil
		} else {
			docs = docs[opts.Skip:]
		}
	}
	if opts.Limit > 0 && len(docs) > opts.Limit {
		docs = docs[:opts.Limit]
	}
	out := make([]Document, len(docs))
	for i, d := range docs {
		out[i] = Project(d, opts.Projection)
	}
	return out
}

// SortDocs orders docs by spec then _id (nil spec: by _id).
func SortDocs(docs []Document, spec query.SortSpec) {
	full := make(query.SortSpec, 0, len(spec)+1)
	full = append(full, spec...)
	hasID := false
	for _, k := range spec {
		if k.Field == FieldID {
			hasID = true
		}
	}
	if !hasID {
		full = append(full, query.SortKey{Field: FieldID})
	}
	full.Sort(docs)
}

// Project applies p to doc (nil: doc itself).
func Project(doc Document, p *query.Projection) Document {
	if p == nil {
		return doc
	}
	return p.Apply(doc)
}
