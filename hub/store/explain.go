package store

import "context"

// Plan is how a backend ran a find, shaped like MongoDB's explain output
// reduced to what both backends can say.
type Plan struct {
	// Plan is "IXSCAN" (an index narrowed the documents read) or
	// "COLLSCAN" (every document was read).
	Plan string `json:"plan"`
	// Index names the index used ("_id_", "_updated_1", a declared name).
	Index string `json:"index,omitempty"`
	// KeysExamined counts index entries read.
	KeysExamined int `json:"keysExamined"`
	// DocsExamined counts documents read.
	DocsExamined int `json:"docsExamined"`
	// Returned counts the documents returned.
	Returned int `json:"returned"`
	// SortedByIndex tells that the index order served the sort (so the
	// limit stopped the scan early).
	SortedByIndex bool `json:"sortedByIndex"`
	// Backend names the backend that answered ("bolt", "mongo").
	Backend string `json:"backend"`
	// Server is the server's own explain output, when the backend passes
	// one through (mongo).
	Server map[string]any `json:"server,omitempty"`
}

// Explainer is implemented by backends that can say how they run a find
// (the REST find's explain=true).
type Explainer interface {
	// Explain runs the find of opts and reports its plan and work.
	Explain(ctx context.Context, layer, collection string, opts FindOptions) (Plan, error)
}

// ExplainFind asks s for the plan of a find, looking through decorators
// such as WithChanges. ok is false when the backend cannot explain.
func ExplainFind(ctx context.Context, s Store, layer, collection string, opts FindOptions) (p Plan, ok bool, err error) {
	for {
		if e, is := s.(Explainer); is {
			p, err = e.Explain(ctx, layer, collection, opts)
			return p, true, err
		}
		u, is := s.(interface{ Unwrap() Store })
		if !is {
			return Plan{}, false, nil
		}
		s = u.Unwrap()
	}
}
