package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// IndexGeo is the key kind of a geometry index ("2dsphere" in a declaration).
const IndexGeo = "2dsphere"

// FieldTimestamp is the top-level field indexed by default besides _updated
// (the REST /range default field).
const FieldTimestamp = "timestamp"

// IndexField is one key of an index: a dotted path and its order (1
// ascending, -1 descending) or IndexGeo.
type IndexField struct {
	// Path is the dotted field path.
	Path string
	// Order is 1 or -1; 0 with Geo set.
	Order int
	// Geo marks a "2dsphere" key.
	Geo bool
}

// IndexFields are the ordered keys of an index. Their JSON form is
// MongoDB's key pattern, an object whose key order is the index order.
type IndexFields []IndexField

// MarshalJSON writes the key pattern in index order.
func (f IndexFields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(k.Path)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		if k.Geo {
			b.WriteString(strconv.Quote(IndexGeo))
		} else {
			b.WriteString(strconv.Itoa(k.Order))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a key pattern keeping its key order. Values other
// than 1, -1 and "2dsphere" are kept as order 0 for ValidateIndex to name.
func (f *IndexFields) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("index fields: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("index fields: want an object such as {\"a.b\": 1}")
	}
	out := IndexFields{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("index fields: %w", err)
		}
		path, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("index fields: %q: %w", path, err)
		}
		k := IndexField{Path: path}
		switch x := v.(type) {
		case json.Number:
			if n, err := x.Int64(); err == nil && (n == 1 || n == -1) {
				k.Order = int(n)
			} else if fl, err := x.Float64(); err == nil && (fl == 1 || fl == -1) {
				k.Order = int(fl)
			}
		case string:
			k.Geo = x == IndexGeo
		}
		out = append(out, k)
	}
	*f = out
	return nil
}

// Index declares a secondary index of a collection, in MongoDB's shape:
// {"fields": {"measurements.activePower.value": 1}, "unique": true}.
type Index struct {
	// Fields is the key pattern: dotted paths with 1, -1 or "2dsphere".
	Fields IndexFields `json:"fields"`
	// Unique refuses a second document with the same key (ErrConflict).
	Unique bool `json:"unique,omitempty"`
	// Sparse leaves out documents that have none of the fields.
	Sparse bool `json:"sparse,omitempty"`
	// Name names the index; default MongoDB's <path>_<order>_… form.
	Name string `json:"name,omitempty"`
}

// IndexName returns the declared name or MongoDB's default one.
func (ix Index) IndexName() string {
	if ix.Name != "" {
		return ix.Name
	}
	parts := make([]string, 0, 2*len(ix.Fields))
	for _, f := range ix.Fields {
		o := strconv.Itoa(f.Order)
		if f.Geo {
			o = IndexGeo
		}
		parts = append(parts, f.Path, o)
	}
	return strings.Join(parts, "_")
}

// IsGeo reports whether the index is a geometry index.
func (ix Index) IsGeo() bool { return len(ix.Fields) == 1 && ix.Fields[0].Geo }

// Equal reports whether two declarations describe the same index.
func (ix Index) Equal(o Index) bool {
	if ix.IndexName() != o.IndexName() || ix.Unique != o.Unique || ix.Sparse != o.Sparse || len(ix.Fields) != len(o.Fields) {
		return false
	}
	for i := range ix.Fields {
		if ix.Fields[i] != o.Fields[i] {
			return false
		}
	}
	return true
}

// DefaultIndexes are the indexes every collection has besides _id:
// _updated and timestamp, ascending.
func DefaultIndexes() []Index {
	return []Index{
		{Fields: IndexFields{{Path: FieldUpdated, Order: 1}}},
		{Fields: IndexFields{{Path: FieldTimestamp, Order: 1}}},
	}
}

// IsDefaultIndex reports whether name is one of DefaultIndexes or _id's.
func IsDefaultIndex(name string) bool {
	if name == "_id_" {
		return true
	}
	for _, d := range DefaultIndexes() {
		if d.IndexName() == name {
			return true
		}
	}
	return false
}

// AllIndexes returns the collection's indexes: the defaults, then the
// declared ones.
func (c *Collection) AllIndexes() []Index {
	return append(DefaultIndexes(), c.Indexes...)
}

// ValidateIndexes checks the index declarations of a collection; where
// names the collection in messages (e.g. `collections[2] ("meters")`).
// Every problem is reported, joined; errors wrap ErrInvalid.
func ValidateIndexes(where string, ixs []Index) error {
	var problems []string
	add := func(i int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s.indexes[%d]: ", where, i)+fmt.Sprintf(format, args...))
	}
	names := map[string]int{}
	for _, d := range DefaultIndexes() {
		names[d.IndexName()] = -1
	}
	for i, ix := range ixs {
		if len(ix.Fields) == 0 {
			add(i, "fields is empty: give at least one path, e.g. {\"a.b\": 1}")
			continue
		}
		seen := map[string]bool{}
		geo := 0
		for _, f := range ix.Fields {
			if err := checkIndexPath(f.Path); err != nil {
				add(i, "fields.%q: %v", f.Path, err)
			}
			if seen[f.Path] {
				add(i, "fields.%q is listed twice", f.Path)
			}
			seen[f.Path] = true
			switch {
			case f.Geo:
				geo++
			case f.Order != 1 && f.Order != -1:
				add(i, "fields.%q: want 1, -1 or %q", f.Path, IndexGeo)
			}
		}
		if geo > 0 && len(ix.Fields) > 1 {
			add(i, "a %q index has exactly one field", IndexGeo)
		}
		if geo > 0 && ix.Unique {
			add(i, "a %q index cannot be unique", IndexGeo)
		}
		if len(ix.Fields) == 1 && ix.Fields[0].Path == FieldID {
			add(i, "_id is always indexed (and unique)")
		}
		name := ix.IndexName()
		if name == "_id_" || strings.ContainsAny(name, "/\x00") || len(name) > 128 {
			add(i, "name %q: not allowed (no '/', at most 128 bytes, not _id_)", name)
		}
		if j, dup := names[name]; dup {
			if j < 0 {
				add(i, "index %q is a default index (_updated and timestamp are always indexed)", name)
			} else {
				add(i, "index name %q is also used by indexes[%d]", name, j)
			}
		}
		names[name] = i
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// checkIndexPath checks a dotted index path: non-empty segments, no
// operator, and no internal field other than _id, _updated and _expired.
func checkIndexPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	for seg := range strings.SplitSeq(p, ".") {
		if seg == "" {
			return fmt.Errorf("empty segment in the path")
		}
		if strings.HasPrefix(seg, "$") {
			return fmt.Errorf("a path segment may not start with '$'")
		}
	}
	top, _, _ := strings.Cut(p, ".")
	if strings.HasPrefix(top, "_") && top != FieldID && top != FieldUpdated && top != FieldExpired {
		return fmt.Errorf("%q is an internal field", top)
	}
	return nil
}
