package store

import (
	"math"
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
