package store

import "github.com/gridedge/gridedge/hub/store/query"

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
