package bolt

import (
	"bytes"
	"context"
	"slices"

	"github.com/gridedge/gridedge/hub/store"
)

// findByID serves a find whose index scan does not come in the order
// asked for, when that order is _id's (no sort) and a limit bounds the
// page: the ids are taken from the index entries alone (no document read),
// sorted, and documents are read in _id order until the page is full. A
// range over 50 index entries with limit 20 then reads about 20 documents
// instead of all 50 (the whole page has to be known before sorting
// otherwise). ok is false when the query is not of that kind.
func (c *coll) findByID(ctx context.Context, p *plan, opts store.FindOptions, want fieldTree, st *explainStats) (out []store.Document, ok bool, err error) {
	if p.ix == nil || p.ordered || opts.Sort != nil || opts.Limit <= 0 {
		return nil, false, nil
	}
	var ids [][]byte
	if !c.empty() {
		cur := p.ix.entries.Cursor()
		n := 0
		for _, r := range p.ranges {
			for k, v := cur.Seek(r[0]); k != nil && (r[1] == nil || bytes.Compare(k, r[1]) < 0); k, v = cur.Next() {
				if n++; n%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return nil, true, err
					}
				}
				st.keys++
				ids = append(ids, v) // valid until the transaction ends
			}
		}
	}
	slices.SortFunc(ids, bytes.Compare)
	// $in over several values of a non-multikey index lists a document
	// once, but ranges are not promised to be disjoint
	ids = slices.CompactFunc(ids, bytes.Equal)
	out = []store.Document{}
	skip := opts.Skip
	scratch := map[string]any{}
	for _, id := range ids {
		v := c.docs.Get(id)
		if v == nil {
			continue
		}
		st.docs++
		// the fields the selector reads first: a candidate it refuses
		// costs no whole decode
		d, err := decodeSome(v, want, scratch)
		if err != nil {
			return nil, true, docErr(string(id), c.name, err)
		}
		if !opts.Selector.Match(d) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if want != nil {
			if d, err = decodeDoc(v); err != nil {
				return nil, true, docErr(string(id), c.name, err)
			}
		}
		out = append(out, store.Project(d, opts.Projection))
		if len(out) >= opts.Limit {
			break
		}
	}
	st.returned = len(out)
	return out, true, nil
}
