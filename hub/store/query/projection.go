package query

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/shared/model"
)

// Projection selects the fields of documents returned by a query, with
// MongoDB's find() projection rules for inclusion and exclusion of plain and
// dotted fields. A nil *Projection returns documents unchanged.
type Projection struct {
	include bool      // inclusion mode; otherwise exclusion
	tree    *projNode // fields named by the projection, except _id
	noID    bool      // _id excluded
	fields  map[string]bool
}

// projNode is a node of the projection's field tree; a node without
// children stands for a whole field.
type projNode struct {
	children map[string]*projNode
}

// ParseProjection parses a projection: an object whose values are 1/true
// (include) or 0/false (exclude), with dotted paths allowed, for example
// {"a": 1, "b.c": 1} or {"x": 0}. Inclusion and exclusion cannot be mixed,
// except that "_id": 0 may appear in an inclusion projection; _id is
// included unless excluded. The projection may also be given as JSON text
// ([]byte or json.RawMessage). nil or {} means no projection. Projection
// operators ($slice, $elemMatch, $meta, positional "a.$") and literal values
// are not supported and are reported as errors.
func ParseProjection(v any) (*Projection, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case *Projection:
		return x, nil
	case json.RawMessage:
		return ParseProjection([]byte(x))
	case []byte:
		var m any
		if err := json.Unmarshal(x, &m); err != nil {
			return nil, projErr("invalid JSON: %v", err)
		}
		if m == nil {
			return nil, nil
		}
		return ParseProjection(m)
	case map[string]any:
		return parseProjectionMap(x)
	}
	return nil, projErr("projection must be an object, not %s", typeName(v))
}

func parseProjectionMap(m map[string]any) (*Projection, error) {
	if len(m) == 0 {
		return nil, nil
	}
	p := &Projection{tree: &projNode{children: map[string]*projNode{}}, fields: map[string]bool{}}
	mode := 0 // 1 include, -1 exclude
	for _, k := range slices.Sorted(maps.Keys(m)) {
		on, err := projFlag(k, m[k])
		if err != nil {
			return nil, err
		}
		p.fields[k] = on
		if k == "_id" {
			p.noID = !on
			continue
		}
		want := -1
		if on {
			want = 1
		}
		if mode != 0 && mode != want {
			return nil, projErr("cannot mix inclusion and exclusion (field %q)", k)
		}
		mode = want
		if err := p.tree.add(k); err != nil {
			return nil, err
		}
	}
	switch {
	case mode == 1:
		p.include = true
	case mode == 0 && !p.noID:
		// {"_id": 1} alone: include only _id.
		p.include = true
	}
	return p, nil
}

// Fields returns the projection as field → included, normalised from the
// parsed form (for example to pass it on to MongoDB). nil for a nil
// projection.
func (p *Projection) Fields() map[string]bool {
	if p == nil {
		return nil
	}
	out := make(map[string]bool, len(p.fields))
	for k, v := range p.fields {
		out[k] = v
	}
	return out
}

func projFlag(k string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case map[string]any:
		return false, projErr("projection operators are not supported (field %q)", k)
	}
	if f, ok := model.Float(v); ok {
		return f != 0, nil
	}
	return false, projErr("field %q: projection values must be 0/1 or true/false, not %s", k, typeName(v))
}

// add inserts a dotted path; a path that is a prefix of another ("a" and
// "a.b") is a collision, as in MongoDB 4.4 and later.
func (n *projNode) add(path string) error {
	cur := n
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if part == "" {
			return projErr("empty field name in %q", path)
		}
		if strings.HasPrefix(part, "$") {
			return projErr("field %q: %q is not supported", path, part)
		}
		last := i == len(parts)-1
		next, ok := cur.children[part]
		switch {
		case ok && (last || next.children == nil):
			return projErr("path collision at %q", path)
		case !ok:
			next = &projNode{}
			if !last {
				next.children = map[string]*projNode{}
			}
			cur.children[part] = next
		}
		cur = next
	}
	return nil
}

// Apply returns the projected document. It builds new objects and arrays
// along projected paths; other values are shared with doc, so treat the
// result as read-only or copy it. doc itself is not modified.
func (p *Projection) Apply(doc map[string]any) map[string]any {
	if p == nil {
		return doc
	}
	var out map[string]any
	if p.include {
		out = includeObject(doc, p.tree)
		if id, ok := doc["_id"]; ok && !p.noID {
			out["_id"] = id
		}
	} else {
		out = excludeObject(doc, p.tree)
		if p.noID {
			delete(out, "_id")
		}
	}
	return out
}

func includeObject(doc map[string]any, n *projNode) map[string]any {
	out := make(map[string]any, len(n.children))
	for k, child := range n.children {
		v, ok := doc[k]
		if !ok {
			continue
		}
		if child.children == nil {
			out[k] = v
			continue
		}
		if pv, ok := includeValue(v, child); ok {
			out[k] = pv
		}
	}
	return out
}

// includeValue projects a sub-path into v: objects are projected, arrays
// are projected element by element (scalars inside them are dropped), and
// scalars are dropped, as MongoDB does for {"a.b": 1}.
func includeValue(v any, n *projNode) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return includeObject(x, n), true
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if pe, ok := includeValue(e, n); ok {
				out = append(out, pe)
			}
		}
		return out, true
	}
	return nil, false
}

func excludeObject(doc map[string]any, n *projNode) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		child, named := n.children[k]
		switch {
		case !named:
			out[k] = v
		case child.children == nil:
			// excluded
		default:
			out[k] = excludeValue(v, child)
		}
	}
	return out
}

// excludeValue removes a sub-path from v: inside objects, and inside each
// object of an array; other values are kept.
func excludeValue(v any, n *projNode) any {
	switch x := v.(type) {
	case map[string]any:
		return excludeObject(x, n)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = excludeValue(e, n)
		}
		return out
	}
	return v
}
