package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/expression"
)

// Config is the transformation configuration: config groups and devices,
// as in the IoT agents' provisioning API.
type Config struct {
	// Groups are mappings shared by every device whose default document is
	// in the group's collection.
	Groups []Group `json:"groups,omitempty"`
	// Devices are mappings of single devices.
	Devices []Device `json:"devices,omitempty"`
}

// Group is a config group.
type Group struct {
	// EntityType is the collection ("<layer>_<collection>") whose devices the
	// group applies to.
	EntityType string `json:"entity_type"`
	// Attributes are the active attributes.
	Attributes []Attribute `json:"attributes,omitempty"`
	// StaticAttributes are written to every device document of the group.
	StaticAttributes []StaticAttribute `json:"static_attributes,omitempty"`
	// ExplicitAttrs selects what is written (see the package documentation).
	ExplicitAttrs ExplicitAttrs `json:"explicitAttrs,omitempty"`
}

// Device is a provisioned device.
type Device struct {
	// DeviceID is the _id of the device's default document (at the edge,
	// the document a slave's SETTINGS entry names).
	DeviceID string `json:"device_id"`
	// EntityName is the _id of the document the device writes (default:
	// its default document).
	EntityName string `json:"entity_name,omitempty"`
	// EntityType is the collection of the document the device writes,
	// "<layer>_<collection>" (default: its default document's).
	EntityType string `json:"entity_type,omitempty"`
	// Attributes are the active attributes; they override the group's with
	// the same object_id (or name).
	Attributes []Attribute `json:"attributes,omitempty"`
	// StaticAttributes are written to the device's document; they override
	// the group's with the same name.
	StaticAttributes []StaticAttribute `json:"static_attributes,omitempty"`
	// ExplicitAttrs, when set, overrides the group's.
	ExplicitAttrs ExplicitAttrs `json:"explicitAttrs,omitempty"`
}

// Attribute maps a measure to a measurement of a document.
type Attribute struct {
	// ObjectID is the measure's name in the reading (default: Name).
	ObjectID string `json:"object_id,omitempty"`
	// Name is the measurement's name in the document.
	Name string `json:"name"`
	// Type is the attribute type (e.g. "Number"); accepted, not used.
	Type string `json:"type,omitempty"`
	// Metadata is static attribute metadata; accepted, not used.
	Metadata map[string]any `json:"metadata,omitempty"`
	// Expression computes the value from the reading; it runs only when all
	// its variables are present.
	Expression string `json:"expression,omitempty"`
	// SkipValue: an expression result equal to it is not written (default null).
	SkipValue any `json:"skipValue,omitempty"`
	// EntityName is the _id of another document to write this attribute to
	// (multi-entity); may be an expression.
	EntityName string `json:"entity_name,omitempty"`
	// EntityType is the collection of that document (default: the device's).
	EntityType string `json:"entity_type,omitempty"`
}

// StaticAttribute is a constant written to the device's document.
type StaticAttribute struct {
	// Name is the field's name.
	Name string `json:"name"`
	// Type is the attribute type; accepted, not used.
	Type string `json:"type,omitempty"`
	// Value is the field's value.
	Value any `json:"value"`
	// Metadata is static metadata; accepted, not used.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// ExplicitAttrs is the explicitAttrs setting: a boolean, an array of
// attribute names (or {object_id: …} objects), or a string holding an
// expression (an array literal, or any expression yielding a boolean or an
// array). The zero value is "not set". (A value, not a pointer, in the
// config structs: shared/config's strict decoder cannot yet handle a
// pointer to a type whose UnmarshalJSON has a pointer receiver.)
type ExplicitAttrs struct {
	// Bool is the boolean form's value.
	Bool bool
	// List is the array form (strings, or objects with object_id), also
	// filled when the expression is a constant array literal.
	List []any
	// Expr is the expression form's source.
	Expr string
	// kind tells which form is set.
	kind explicitKind
}

type explicitKind uint8

const (
	explicitUnset explicitKind = iota
	explicitBool
	explicitList
	explicitExpr
)

// IsSet tells whether explicitAttrs was given.
func (x *ExplicitAttrs) IsSet() bool { return x.kind != explicitUnset }

// UnmarshalJSON accepts true/false, an array or a string.
func (x *ExplicitAttrs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '[':
		x.kind = explicitList
		return json.Unmarshal(b, &x.List)
	case len(b) > 0 && b[0] == '"':
		x.kind = explicitExpr
		return json.Unmarshal(b, &x.Expr)
	case bytes.Equal(b, []byte("null")):
		*x = ExplicitAttrs{}
		return nil
	default:
		x.kind = explicitBool
		if err := json.Unmarshal(b, &x.Bool); err != nil {
			return fmt.Errorf("want true, false, an array or an expression string, got %s", b)
		}
		return nil
	}
}

// MarshalJSON writes the form that was read.
func (x ExplicitAttrs) MarshalJSON() ([]byte, error) {
	switch x.kind {
	case explicitList:
		return json.Marshal(x.List)
	case explicitExpr:
		return json.Marshal(x.Expr)
	case explicitUnset:
		return []byte("null"), nil
	}
	return json.Marshal(x.Bool)
}

// Validate reports every problem of c with the path of the offending field,
// e.g. "devices[0].attributes[1].expression: expression: … at position 4".
func (c *Config) Validate() error {
	_, es := build(c)
	return es.Err()
}

func validateAttributes(es *config.Errors, p string, attrs []Attribute) {
	for i := range attrs {
		a := &attrs[i]
		ap := config.Index(config.Join(p, "attributes"), i)
		checkName(es, config.Join(ap, "name"), a.Name)
		if a.ObjectID != "" && strings.TrimSpace(a.ObjectID) == "" {
			es.Add(config.Join(ap, "object_id"), "is blank")
		}
		if a.Expression != "" {
			if _, err := expression.Compile(a.Expression, expression.Options{}); err != nil {
				es.Add(config.Join(ap, "expression"), "%v", err)
			}
		}
		if a.EntityType != "" {
			checkEntityType(es, config.Join(ap, "entity_type"), a.EntityType)
		}
	}
}

func validateStatics(es *config.Errors, p string, statics []StaticAttribute) {
	seen := map[string]bool{}
	for i := range statics {
		sp := config.Index(config.Join(p, "static_attributes"), i)
		n := statics[i].Name
		checkName(es, config.Join(sp, "name"), n)
		if seen[n] {
			es.Add(config.Join(sp, "name"), "%q is defined twice", n)
		}
		seen[n] = true
		if n == "_id" || n == "measurements" || strings.HasPrefix(n, "measurements.") || n == "measurementsTimestamp" {
			es.Add(config.Join(sp, "name"), "%q is reserved", n)
		}
	}
}

func checkName(es *config.Errors, p, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		es.Add(p, "is required")
	case strings.ContainsAny(name, ".$"):
		es.Add(p, "%q contains '.' or '$', which document field names cannot hold", name)
	}
}

func checkEntityType(es *config.Errors, p, t string) {
	layer, coll, ok := strings.Cut(t, "_")
	if strings.ContainsAny(t, ". ") || (ok && (layer == "" || coll == "")) || t == "" {
		es.Add(p, "%q is not a collection name (<layer>_<collection>, or a collection of the device's layer)", t)
	}
}
