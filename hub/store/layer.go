package store

import (
	"encoding/json"
	"fmt"
)

// Layer is a system or data domain (seed 3.1.2.1), stored in _layers.
type Layer struct {
	// ID is the layer's identifier (_id).
	ID string `json:"_id"`
	// Label is a short human name.
	Label string `json:"label,omitempty"`
	// Description says what the layer holds.
	Description string `json:"description,omitempty"`
	// Owner is the owning user or organisation.
	Owner string `json:"owner,omitempty"`
	// Category groups layers, e.g. "energy".
	Category string `json:"category,omitempty"`
	// Collections are the collections the layer manages.
	Collections []Collection `json:"collections"`
	// Config holds free-form layer settings.
	Config map[string]any `json:"config,omitempty"`
}

// Collection describes one collection of a layer.
type Collection struct {
	// Name is the collection's name inside the layer.
	Name string `json:"name"`
	// Label is a short human name.
	Label string `json:"label,omitempty"`
	// Geo tells whether documents carry a GeoJSON geometry.
	Geo bool `json:"geo,omitempty"`
	// Metrics lists the metric series kept for the collection.
	Metrics []string `json:"metrics,omitempty"`
	// Indexes declares secondary indexes (MongoDB's shape); _id, _updated
	// and timestamp are always indexed.
	Indexes []Index `json:"indexes,omitempty"`
	// Extra keeps other attributes of the seed's free-form collection object
	// (e.g. publicFields, publish, track); they are stored and returned as
	// attributes of the collection object itself.
	Extra map[string]any `json:"-"`
}

// collectionFields are the attributes Collection has fields for.
var collectionFields = map[string]bool{"name": true, "label": true, "geo": true, "metrics": true, "indexes": true}

// MarshalJSON writes the known attributes and the Extra ones side by side.
func (c Collection) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(c.Extra)+4)
	for k, v := range c.Extra {
		if !collectionFields[k] {
			m[k] = v
		}
	}
	m["name"] = c.Name
	if c.Label != "" {
		m["label"] = c.Label
	}
	if c.Geo {
		m["geo"] = c.Geo
	}
	if len(c.Metrics) > 0 {
		m["metrics"] = c.Metrics
	}
	if len(c.Indexes) > 0 {
		m["indexes"] = c.Indexes
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the known attributes and keeps the others in Extra.
func (c *Collection) UnmarshalJSON(b []byte) error {
	type known struct {
		Name    string   `json:"name"`
		Label   string   `json:"label"`
		Geo     bool     `json:"geo"`
		Metrics []string `json:"metrics"`
		Indexes []Index  `json:"indexes"`
	}
	var k known
	if err := json.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("collection: %w", err)
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("collection: %w", err)
	}
	*c = Collection{Name: k.Name, Label: k.Label, Geo: k.Geo, Metrics: k.Metrics, Indexes: k.Indexes}
	for key, v := range all {
		if !collectionFields[key] {
			if c.Extra == nil {
				c.Extra = map[string]any{}
			}
			c.Extra[key] = v
		}
	}
	return nil
}

// Collection returns the collection named name, or nil.
func (l *Layer) Collection(name string) *Collection {
	for i := range l.Collections {
		if l.Collections[i].Name == name {
			return &l.Collections[i]
		}
	}
	return nil
}

// CheckName reports whether s can name a layer (what = "layer") or a
// collection: letters, digits, '-' and, for collections only, '_'.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s name is empty", ErrInvalid, what)
	}
	if len(s) > 64 {
		return fmt.Errorf("%w: %s name %q is longer than 64 characters", ErrInvalid, what, s)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || (r == '_' && what != "layer")
		if !ok {
			return fmt.Errorf("%w: %s name %q may only hold letters, digits and '-'%s", ErrInvalid, what, s,
				map[bool]string{true: "", false: " and '_'"}[what == "layer"])
		}
	}
	return nil
}

// StoreName is the store name of a collection: <layer>_<collection>.
func StoreName(layer, collection string) string { return layer + "_" + collection }

// ValidateLayer checks a layer before a backend stores it: the layer and
// collection names (CheckName), and no collection listed twice. It sets a
// nil Collections to an empty list, so that the layer encodes with
// "collections": []. Errors wrap ErrInvalid.
func ValidateLayer(l *Layer) error {
	if err := CheckName("layer", l.ID); err != nil {
		return err
	}
	seen := make(map[string]bool, len(l.Collections))
	for i, c := range l.Collections {
		if err := CheckName("collection", c.Name); err != nil {
			return err
		}
		if err := ValidateIndexes(fmt.Sprintf("collections[%d] (%q)", i, c.Name), c.Indexes); err != nil {
			return err
		}
		if seen[c.Name] {
			return fmt.Errorf("%w: collection %q is listed twice", ErrInvalid, c.Name)
		}
		seen[c.Name] = true
	}
	if l.Collections == nil {
		l.Collections = []Collection{}
	}
	return nil
}

// EnsureCollection returns the layer that has collection col, for
// ApplyBatch with CreateMissing: l is the stored layer named layer, or nil
// when there is none, in which case a new layer is made (labelled as
// created by the ingest applier). col is appended to its collections when
// missing. Each layer or collection made is recorded in res.Created (the
// layer's id, StoreName(layer, col)); changed reports whether there was
// any, that is whether the layer must be stored.
func EnsureCollection(l *Layer, layer, col string, res *ApplyResult) (out *Layer, changed bool) {
	if l == nil {
		l = &Layer{ID: layer, Label: layer, Description: "created by the ingest applier"}
		res.Created = append(res.Created, layer)
		changed = true
	}
	if l.Collection(col) == nil {
		l.Collections = append(l.Collections, Collection{Name: col})
		res.Created = append(res.Created, StoreName(layer, col))
		changed = true
	}
	return l, changed
}
