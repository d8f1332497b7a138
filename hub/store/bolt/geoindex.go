package bolt

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// Geometry index ("2dsphere" declaration). Every vertex of a document's
// GeoJSON geometry is put in a cell of a longitude/latitude grid of
// 2^geoBits × 2^geoBits cells (about 38 m × 19 m at the equator); the key
// is the cell's Morton (Z-order) code, 8 bytes, then the _id. A cell of a
// coarser level is then one contiguous key range, so a query covers a
// bounding box with a handful of range scans. Near matches by the nearest
// vertex, so indexing vertices finds every match. A vertex with a latitude
// outside ±90° goes under geoAnywhere, a key scanned by every query.
const (
	geoBits     = 20
	geoAnywhere = math.MaxUint64
)

func geoCellXY(lon, lat float64) (x, y uint32) {
	lon = math.Mod(lon+180, 360)
	if lon < 0 {
		lon += 360
	}
	n := float64(uint32(1) << geoBits)
	x = uint32(math.Min(lon/360*n, n-1))
	y = uint32(math.Min(math.Max((lat+90)/180*n, 0), n-1))
	return x, y
}

// morton interleaves x (even bits) and y (odd bits).
func morton(x, y uint32) uint64 {
	var z uint64
	for i := range geoBits {
		z |= uint64(x>>i&1)<<(2*i) | uint64(y>>i&1)<<(2*i+1)
	}
	return z
}

// geoVertices calls fn for every [lon, lat] pair of a GeoJSON geometry.
func geoVertices(v any, depth int, fn func(lon, lat float64)) {
	if depth > 6 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if gs, ok := x["geometries"].([]any); ok {
			for _, g := range gs {
				geoVertices(g, depth+1, fn)
			}
			return
		}
		geoVertices(x["coordinates"], depth+1, fn)
	case []any:
		if len(x) >= 2 {
			lon, ok1 := model.Float(x[0])
			lat, ok2 := model.Float(x[1])
			if ok1 && ok2 {
				fn(lon, lat)
				return
			}
		}
		for _, e := range x {
			geoVertices(e, depth+1, fn)
		}
	}
}

// geoKeys returns the geometry index entries of doc: one per cell holding
// a vertex of the geometry at path.
func geoKeys(doc store.Document, path, id string) [][]byte {
	g, exists, _ := lookupPath(doc, path)
	if !exists {
		return nil
	}
	seen := map[uint64]bool{}
	var out [][]byte
	geoVertices(g, 0, func(lon, lat float64) {
		cell := uint64(geoAnywhere)
		if lat >= -90 && lat <= 90 && !math.IsNaN(lon) && !math.IsInf(lon, 0) {
			cell = morton(geoCellXY(lon, lat))
		}
		if seen[cell] {
			return
		}
		seen[cell] = true
		out = append(out, append(binary.BigEndian.AppendUint64(nil, cell), id...))
	})
	// one order, so that an unchanged geometry gives equal key lists
	slices.SortFunc(out, bytes.Compare)
	return out
}

// geoRanges returns the key ranges [lo, hi) of the cells covering every
// point within meters of (lon, lat), plus the geoAnywhere range.
func geoRanges(lon, lat, meters float64) [][2][]byte {
	var out [][2][]byte
	add := func(lo, hi uint64) {
		var h []byte
		if hi != 0 {
			h = binary.BigEndian.AppendUint64(nil, hi)
		}
		out = append(out, [2][]byte{binary.BigEndian.AppendUint64(nil, lo), h})
	}
	dLat := meters / store.EarthRadius * 180 / math.Pi
	latLo, latHi := lat-dLat, lat+dLat
	full := latLo <= -90 || latHi >= 90 || dLat >= 90
	var dLon float64
	if !full {
		c := math.Min(math.Cos(latLo*math.Pi/180), math.Cos(latHi*math.Pi/180))
		// the widest longitude span of the circle: asin(sin(r)/cos(lat))
		s := math.Sin(meters/store.EarthRadius) / c
		if c <= 0 || s >= 1 {
			full = true
		} else {
			dLon = math.Asin(s)*180/math.Pi + 1e-9
		}
	}
	if full || dLon >= 180 {
		latLo, latHi = math.Max(latLo, -90), math.Min(latHi, 90)
		dLon = 180
	}
	// level: cells at least a third of the box, so at most ~4×4 of them
	span := math.Max(2*dLon/360, 2*dLat/180)
	level := geoBits
	for level > 0 && float64(uint32(1)<<(geoBits-level))/float64(uint32(1)<<geoBits) < span/3 {
		level--
	}
	shift := geoBits - level
	_, y0 := geoCellXY(0, math.Max(latLo, -90))
	_, y1 := geoCellXY(0, math.Min(latHi, 90))
	var xs [][2]uint32
	if dLon >= 180 {
		xs = [][2]uint32{{0, 1<<geoBits - 1}}
	} else {
		x0, _ := geoCellXY(lon-dLon, 0)
		x1, _ := geoCellXY(lon+dLon, 0)
		if x0 <= x1 {
			xs = [][2]uint32{{x0, x1}}
		} else { // across the antimeridian
			xs = [][2]uint32{{x0, 1<<geoBits - 1}, {0, x1}}
		}
	}
	for _, xr := range xs {
		for cy := y0 >> shift; cy <= y1>>shift; cy++ {
			for cx := xr[0] >> shift; cx <= xr[1]>>shift; cx++ {
				lo := morton(cx<<shift, cy<<shift)
				add(lo, lo+1<<(2*shift))
			}
		}
	}
	add(geoAnywhere, 0)
	return out
}

// geoIndex returns the collection's ready geometry index on "geometry"
// (nil: none).
func (c *coll) geoIndex() (*index, error) {
	ixs, err := c.loadIndexes()
	if err != nil {
		return nil, err
	}
	for _, ix := range ixs {
		if ix.meta.State == indexReady && ix.meta.Index.IsGeo() && ix.meta.Index.Fields[0].Path == "geometry" {
			return ix, nil
		}
	}
	return nil, nil
}

// nearStartMeters is the first search radius of an indexed Near.
const nearStartMeters = 1000

// nearByIndex returns the documents matching sel that have a vertex in
// the cells around (lon, lat): the radius starts at nearStartMeters and
// grows (nextNearRadius) until skip+limit documents lie within it or it
// reaches maxMeters (with a sort, or without a limit, it is maxMeters at
// once). Documents read in one round are not read again in the next.
// Every document within the final radius is among the candidates, so
// store.FinishNear's exact distances and order give the same answer as a
// scan; it returns the final page, projected.
func (c *coll) nearByIndex(ctx ctxErr, ix *index, sel *query.Selector, lon, lat, maxMeters float64, opts store.FindOptions) (_ []store.Document, err error) {
	need := opts.Skip + opts.Limit
	r := maxMeters
	if opts.Limit > 0 && opts.Sort == nil {
		r = math.Min(maxMeters, nearStartMeters)
	}
	// match and measure on the fields needed; FinishNear then decodes
	// the page it keeps (see Store.Near)
	want := fieldsFor(sel, opts.Sort)
	if want != nil {
		want.add("geometry")
	}
	// documents read in an earlier round, with their distance
	type candidate struct {
		d     store.Document
		raw   []byte
		match bool
		dist  float64
		ok    bool // dist is known
	}
	read := map[string]*candidate{}
	for {
		var out []store.Document
		raws := map[string][]byte{}
		seen := map[string]bool{}
		within := 0
		cur := ix.entries.Cursor()
		for _, rg := range geoRanges(lon, lat, r) {
			for k, v := cur.Seek(rg[0]); k != nil && (rg[1] == nil || bytes.Compare(k, rg[1]) < 0); k, v = cur.Next() {
				if seen[string(v)] {
					continue
				}
				if cellDistance(k, lon, lat) > r {
					continue // the whole cell is farther than r: no fetch
				}
				seen[string(v)] = true
				cd := read[string(v)]
				if cd == nil {
					cd = &candidate{raw: c.docs.Get(v)}
					read[string(v)] = cd
					if cd.raw != nil {
						if cd.d, err = decodeSome(cd.raw, want, nil); err != nil {
							return nil, docErr(string(v), c.name, err)
						}
						if cd.match = sel.Match(cd.d); cd.match {
							cd.dist, cd.ok = store.GeometryDistance(cd.d, lon, lat)
						}
					}
				}
				if !cd.match {
					continue
				}
				out = append(out, cd.d)
				raws[string(v)] = cd.raw
				if cd.ok && cd.dist <= r {
					within++
				}
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if within >= need || r >= maxMeters || r >= math.Pi*store.EarthRadius {
			page := store.FinishNear(out, lon, lat, maxMeters, store.FindOptions{Sort: opts.Sort, Skip: opts.Skip, Limit: opts.Limit})
			for i, d := range page {
				if want != nil {
					id, _ := d[store.FieldID].(string)
					if page[i], err = decodeDoc(raws[id]); err != nil {
						return nil, docErr(id, c.name, err)
					}
				}
				page[i] = store.Project(page[i], opts.Projection)
			}
			return page, nil
		}
		r = math.Min(nextNearRadius(r, within, need), maxMeters)
	}
}

// nextNearRadius is the radius of the next round of an indexed Near that
// found within of the need documents within r: the radius that would hold
// need at the density seen, with a margin, between 1.25r and 4r.
func nextNearRadius(r float64, within, need int) float64 {
	if within == 0 {
		return 4 * r
	}
	return r * math.Max(1.25, math.Min(4, 1.3*math.Sqrt(float64(need)/float64(within))))
}

// geoCellMargin bounds the distance from a finest cell's centre to any
// point of it (half its diagonal is at most 22 m).
const geoCellMargin = 50.0

// cellDistance is a lower bound of the distance from (lon, lat) to the
// vertices indexed under key k (0 for geoAnywhere).
func cellDistance(k []byte, lon, lat float64) float64 {
	z := binary.BigEndian.Uint64(k[:8])
	if z == geoAnywhere {
		return 0
	}
	var x, y uint32
	for i := range geoBits {
		x |= uint32(z>>(2*i)&1) << i
		y |= uint32(z>>(2*i+1)&1) << i
	}
	n := float64(uint32(1) << geoBits)
	clon := (float64(x)+0.5)/n*360 - 180
	clat := (float64(y)+0.5)/n*180 - 90
	return store.Haversine(lon, lat, clon, clat) - geoCellMargin
}
