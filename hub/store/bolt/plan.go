package bolt

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Query planning. The planner reads the selector's conjunctive conditions
// on single fields (top level and under $and) and picks, in order:
//
//  1. _id pinned (equality, $in): key lookups (index "_id_");
//  2. the ready, non-multikey secondary index that pins the most leading
//     fields by equality or $in, then bounds the next one by a range
//     ($gt/$gte/$lt/$lte, combined, within one type as MongoDB's type
//     bracketing does) or a prefix $regex (^literal); ties go to the index
//     that also serves the sort;
//  3. _updated bounded by dates: the _updated index;
//  4. an index serving the sort alone (so limit stops early);
//  5. a collection scan.
//
// Any one conjunctive condition is necessary for a match, so scanning the
// keys that satisfy it finds every match; every fetched document is still
// checked against the whole selector.

// plan is an access path for one query.
type plan struct {
	kind   string // "IXSCAN" or "COLLSCAN"
	index  string
	ix     *index
	ranges [][2][]byte // [lo, hi) over ix's keys; hi nil: to the end
	ids    []string    // _id lookups
	// updated bounds for the _updated index
	updLo, updHi int64
	byUpdated    bool
	// ordered: documents come in opts.Sort order (or _id order without
	// a sort), so skip and limit apply as they come
	ordered bool
}

// explainStats counts the work of one query.
type explainStats struct{ keys, docs, returned int }

// cond is what the selector says about one field.
type cond struct {
	eq        []any // equality or $in values (scalars)
	hasEq     bool
	lo, hi    any
	loIncl    bool
	hiIncl    bool
	prefix    string
	hasPrefix bool
}

// conds collects the usable conditions of a selector's conjunction.
func conds(raw map[string]any, out map[string]*cond) {
	for k, v := range raw {
		if k == "$and" {
			arr, _ := v.([]any)
			for _, e := range arr {
				if m, ok := e.(map[string]any); ok {
					conds(m, out)
				}
			}
			continue
		}
		if strings.HasPrefix(k, "$") {
			continue
		}
		c := out[k]
		if c == nil {
			c = &cond{}
		}
		if m, ok := v.(map[string]any); ok && isOps(m) {
			fieldOps(m, c)
		} else if scalar(v) && !c.hasEq {
			c.eq, c.hasEq = []any{v}, true
		}
		out[k] = c
	}
}

func isOps(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

func scalar(v any) bool {
	switch v.(type) {
	case nil, float64, int, int64, string, bool, time.Time:
		return true
	}
	return false
}

func fieldOps(m map[string]any, c *cond) {
	for _, op := range slices.Sorted(maps.Keys(m)) {
		arg := m[op]
		switch op {
		case "$eq":
			if scalar(arg) && !c.hasEq {
				c.eq, c.hasEq = []any{arg}, true
			}
		case "$in":
			arr, ok := arg.([]any)
			if !ok || c.hasEq {
				continue
			}
			var vals []any
			usable := true
			for _, e := range arr {
				if !scalar(e) {
					usable = false
					break
				}
				if !slices.Contains(vals, e) {
					vals = append(vals, e)
				}
			}
			if usable {
				c.eq, c.hasEq = vals, true
			}
		case "$gt", "$gte":
			if scalar(arg) && arg != nil && c.lo == nil {
				c.lo, c.loIncl = arg, op == "$gte"
			}
		case "$lt", "$lte":
			if scalar(arg) && arg != nil && c.hi == nil {
				c.hi, c.hiIncl = arg, op == "$lte"
			}
		case "$regex":
			if opts, _ := m["$options"].(string); opts != "" {
				continue
			}
			if p, ok := arg.(string); ok {
				if lit := regexPrefix(p); lit != "" {
					c.prefix, c.hasPrefix = lit, true
				}
			}
		}
	}
}

// regexPrefix returns the literal every match of an anchored pattern
// starts with ("" when none).
func regexPrefix(p string) string {
	if !strings.HasPrefix(p, "^") || strings.Contains(p, "|") {
		return ""
	}
	var b strings.Builder
	for i := 1; i < len(p); i++ {
		ch := p[i]
		if strings.IndexByte(`.^$*+?()[]{}|\`, ch) >= 0 {
			if ch == '*' || ch == '?' || ch == '{' {
				s := b.String()
				return s[:max(0, len(s)-1)]
			}
			break
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// typeByte is the key type of a bound value.
func typeByte(v any) byte {
	k, _ := appendComponent(nil, v)
	return k[0]
}

// rangeKeys appends to prefix the [lo, hi) bounds of a range condition;
// ok is false when the condition cannot bound this index field.
func (c *cond) rangeKeys(prefix []byte) (lo, hi []byte, ok bool) {
	if c.hasPrefix {
		k := appendEscaped(append(slices.Clone(prefix), keyString), c.prefix)
		return k, prefixEnd(k), true
	}
	if c.lo == nil && c.hi == nil {
		return nil, nil, false
	}
	var t byte
	if c.lo != nil {
		t = typeByte(c.lo)
	}
	if c.hi != nil {
		if t != 0 && typeByte(c.hi) != t {
			return nil, nil, false
		}
		t = typeByte(c.hi)
	}
	if t != keyNumber && t != keyString && t != keyDate {
		return nil, nil, false
	}
	lo = append(slices.Clone(prefix), t)
	hi = append(slices.Clone(prefix), t+1)
	if c.lo != nil {
		lo, _ = appendComponent(slices.Clone(prefix), c.lo)
		if !c.loIncl {
			lo = prefixEnd(lo)
		}
	}
	if c.hi != nil {
		hi, _ = appendComponent(slices.Clone(prefix), c.hi)
		if c.hiIncl {
			hi = prefixEnd(hi)
		}
	}
	return lo, hi, true
}

// candidate is one index's fit for a query.
type candidate struct {
	ix      *index
	score   int
	ranges  [][2][]byte
	ordered bool
}

// fit computes how well ix serves the conditions and the sort.
func fit(ix *index, cs map[string]*cond, sort query.SortSpec) candidate {
	spec := ix.meta.Index
	prefixes := [][]byte{{}}
	eqFields, ranged := 0, false
	var ranges [][2][]byte
	pinned := map[string]bool{}
	for _, f := range spec.Fields {
		c := cs[f.Path]
		if c == nil {
			break
		}
		if c.hasEq && len(c.eq)*len(prefixes) <= 256 && !(spec.Sparse && slices.Contains(c.eq, nil)) {
			var next [][]byte
			for _, p := range prefixes {
				for _, v := range c.eq {
					k, _ := appendComponent(slices.Clone(p), v)
					if f.Order < 0 {
						invert(k, len(p))
					}
					next = append(next, k)
				}
			}
			prefixes = next
			eqFields++
			if len(c.eq) == 1 {
				pinned[f.Path] = true
			}
			continue
		}
		if f.Order > 0 {
			for _, p := range prefixes {
				lo, hi, ok := c.rangeKeys(p)
				if !ok {
					break
				}
				ranges = append(ranges, [2][]byte{lo, hi})
				ranged = true
			}
			if !ranged {
				ranges = nil
			}
		}
		break
	}
	if !ranged {
		ranges = nil
		for _, p := range prefixes {
			ranges = append(ranges, [2][]byte{p, prefixEnd(p)})
		}
	}
	cand := candidate{ix: ix, score: 2 * eqFields, ranges: ranges}
	if ranged {
		cand.score++
	}
	// the sort is served when, after the pinned fields, it lists the rest
	// of the index's fields in its order: equal keys then come by _id
	var rest query.SortSpec
	for _, k := range sort {
		if !pinned[k.Field] {
			rest = append(rest, k)
		}
	}
	if sort == nil {
		// every field pinned to one value: equal keys, so entries come by _id
		cand.ordered = len(ranges) == 1 && !ranged && eqFields == len(spec.Fields)
		return cand
	}
	tail := spec.Fields[eqFields:]
	if len(ranges) == 1 && len(rest) == len(tail) && (cand.score > 0 || !spec.Sparse) {
		cand.ordered = true
		for i, k := range rest {
			if k.Field != tail[i].Path || k.Desc != (tail[i].Order < 0) {
				cand.ordered = false
			}
		}
	}
	return cand
}

// planFor picks the access path of a query.
func (c *coll) planFor(sel *query.Selector, sort query.SortSpec) (*plan, error) {
	if ids, ok := sel.IDs(); ok {
		slices.Sort(ids)
		return &plan{kind: "IXSCAN", index: "_id_", ids: ids, ordered: sort == nil}, nil
	}
	ixs, err := c.loadIndexes()
	if err != nil {
		return nil, err
	}
	cs := map[string]*cond{}
	if sel != nil {
		conds(sel.Raw(), cs)
	}
	var best *candidate
	for _, ix := range ixs {
		if ix.meta.State != indexReady || ix.meta.Index.IsGeo() || ix.multikey() {
			continue
		}
		cand := fit(ix, cs, sort)
		if cand.score == 0 && !cand.ordered {
			continue
		}
		if best == nil || cand.score > best.score || cand.score == best.score && cand.ordered && !best.ordered {
			best = &cand
		}
	}
	lo, hi, byUpdated := updatedRange(sel)
	if byUpdated && (best == nil || best.score == 0) {
		return &plan{kind: "IXSCAN", index: store.FieldUpdated + "_1", byUpdated: true, updLo: lo, updHi: hi}, nil
	}
	if best != nil {
		return &plan{kind: "IXSCAN", index: best.ix.name, ix: best.ix, ranges: best.ranges, ordered: best.ordered}, nil
	}
	return &plan{kind: "COLLSCAN", ordered: sort == nil}, nil
}

// multikey reports whether a document has an array or object at one of
// the index's paths; such an index is not used.
func (ix *index) multikey() bool {
	k, _ := ix.entries.Cursor().Seek([]byte{keyMultikey})
	return k != nil
}

// run calls fn for every document matching sel along plan p, counting the
// work in st. With want, d holds only those top-level fields (see
// decodeFields) and raw is the stored document to decode when needed;
// without, d is the whole document. A partial d is only valid during the
// call to fn when scratch is given (one map reused). fn may return errStop.
func (c *coll) run(ctx ctxErr, p *plan, sel *query.Selector, st *explainStats, want fieldTree, scratch map[string]any, fn func(id string, d store.Document, raw []byte) error) error {
	if c.empty() {
		return nil
	}
	fetch := func(id []byte) error {
		v := c.docs.Get(id)
		if v == nil {
			return nil
		}
		st.docs++
		d, err := decodeSome(v, want, scratch)
		if err != nil {
			return docErr(string(id), c.name, err)
		}
		if !sel.Match(d) {
			return nil
		}
		st.returned++
		return fn(string(id), d, v)
	}
	switch {
	case p.ids != nil:
		for _, id := range p.ids {
			st.keys++
			if err := fetch([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	case p.byUpdated:
		cur := c.updated.Cursor()
		end := binary64(uint64(p.updHi) ^ (1 << 63))
		for k, _ := cur.Seek(binary64(uint64(p.updLo) ^ (1 << 63))); k != nil && bytes.Compare(k[:8], end) <= 0; k, _ = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			st.keys++
			if err := fetch(k[8:]); err != nil {
				return err
			}
		}
		return nil
	case p.ix != nil:
		cur := p.ix.entries.Cursor()
		n := 0
		for _, r := range p.ranges {
			for k, v := cur.Seek(r[0]); k != nil && (r[1] == nil || bytes.Compare(k, r[1]) < 0); k, v = cur.Next() {
				if n++; n%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				st.keys++
				if err := fetch(v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return c.scan(ctx, sel, st, want, scratch, fn)
}

// ctxErr is the part of a context run needs.
type ctxErr interface{ Err() error }
