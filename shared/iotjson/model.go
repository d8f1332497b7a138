package iotjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
)

// DefaultConjunction joins entity type and device id in a default entity
// name.
const DefaultConjunction = ":"

// Group is a config group as the provisioning API reads and writes it
// (seed 003, "Config group datamodel"). Fields GridEdge keeps but does not
// use (trust, cbHost, lazy, ngsiVersion, …) are stored and returned.
type Group struct {
	// Service is the fiware-service (taken from the header).
	Service string `json:"service,omitempty"`
	// Subservice is the fiware-servicepath (taken from the header).
	Subservice string `json:"subservice,omitempty"`
	// Resource is the southbound resource, e.g. "/iot/json".
	Resource string `json:"resource"`
	// APIKey identifies the group's devices at the southbound.
	APIKey string `json:"apikey"`
	// EntityType is the type of the group's entities: the collection the
	// devices write to.
	EntityType string `json:"entity_type,omitempty"`
	// Type is the legacy spelling of entity_type (read, then moved there).
	Type string `json:"type,omitempty"`
	// Timestamp is the IoT agents' TimeInstant flag (kept, not used: every
	// measurement has its timestamp).
	Timestamp *bool `json:"timestamp,omitempty"`
	// Trust is kept, not used.
	Trust string `json:"trust,omitempty"`
	// CBHost is kept, not used.
	CBHost string `json:"cbHost,omitempty"`
	// Lazy attributes are kept, not used.
	Lazy []transform.Attribute `json:"lazy,omitempty"`
	// Commands are the devices' commands (MQTT binding).
	Commands []Command `json:"commands,omitempty"`
	// Attributes are the active attributes (measurement transformation).
	Attributes []transform.Attribute `json:"attributes,omitempty"`
	// StaticAttributes are written with every reading.
	StaticAttributes []transform.StaticAttribute `json:"static_attributes,omitempty"`
	// InternalAttributes are kept, not used.
	InternalAttributes any `json:"internal_attributes,omitempty"`
	// ExplicitAttrs selects the measures written.
	ExplicitAttrs *transform.ExplicitAttrs `json:"explicitAttrs,omitempty"`
	// EntityNameExp names autoprovisioned devices' entities.
	EntityNameExp string `json:"entityNameExp,omitempty"`
	// NgsiVersion is kept, not used.
	NgsiVersion string `json:"ngsiVersion,omitempty"`
	// DefaultEntityNameConjunction joins entity type and device id in a
	// default entity name (default ":").
	DefaultEntityNameConjunction string `json:"defaultEntityNameConjunction,omitempty"`
	// Autoprovision false refuses readings of unprovisioned devices.
	Autoprovision *bool `json:"autoprovision,omitempty"`
	// ExpressionLanguage must be "jexl" when given (the only one of 3.3.0).
	ExpressionLanguage string `json:"expressionLanguage,omitempty"`
	// Protocol is kept, not used.
	Protocol string `json:"protocol,omitempty"`
	// Transport is kept, not used.
	Transport string `json:"transport,omitempty"`
	// Description is kept, not used.
	Description string `json:"description,omitempty"`
}

// Command is a command attribute.
type Command struct {
	// ObjectID is the command's name at the device.
	ObjectID string `json:"object_id,omitempty"`
	// Name is the command's name.
	Name string `json:"name"`
	// Type is the attribute type (usually "command").
	Type string `json:"type,omitempty"`
	// Expression transforms the command's payload (kept, not used).
	Expression string `json:"expression,omitempty"`
	// PayloadType is kept, not used.
	PayloadType string `json:"payloadType,omitempty"`
	// ContentType is kept, not used.
	ContentType string `json:"contentType,omitempty"`
	// Metadata is kept, not used.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Device is a device as the provisioning API reads and writes it (seed
// 003, "Device datamodel"), plus GridEdge's token_created.
type Device struct {
	// DeviceID identifies the device in its service.
	DeviceID string `json:"device_id"`
	// Service is the fiware-service (taken from the header).
	Service string `json:"service,omitempty"`
	// ServicePath is the fiware-servicepath (taken from the header).
	ServicePath string `json:"service_path,omitempty"`
	// EntityName is the _id of the document the device writes.
	EntityName string `json:"entity_name,omitempty"`
	// EntityType is the collection the device writes to.
	EntityType string `json:"entity_type,omitempty"`
	// Timezone is kept, not used.
	Timezone string `json:"timezone,omitempty"`
	// Timestamp is kept, not used.
	Timestamp *bool `json:"timestamp,omitempty"`
	// APIKey, when set, is the only apikey the device's readings may come with.
	APIKey string `json:"apikey,omitempty"`
	// Endpoint is kept, not used.
	Endpoint string `json:"endpoint,omitempty"`
	// Protocol is kept, not used.
	Protocol string `json:"protocol,omitempty"`
	// Transport is kept, not used.
	Transport string `json:"transport,omitempty"`
	// Attributes are the active attributes; they override the group's.
	Attributes []transform.Attribute `json:"attributes,omitempty"`
	// Commands are the device's commands.
	Commands []Command `json:"commands,omitempty"`
	// Lazy attributes are kept, not used.
	Lazy []transform.Attribute `json:"lazy,omitempty"`
	// StaticAttributes are written with every reading; they override the group's.
	StaticAttributes []transform.StaticAttribute `json:"static_attributes,omitempty"`
	// InternalAttributes are kept, not used.
	InternalAttributes any `json:"internal_attributes,omitempty"`
	// ExplicitAttrs, when set, overrides the group's.
	ExplicitAttrs *transform.ExplicitAttrs `json:"explicitAttrs,omitempty"`
	// NgsiVersion is kept, not used.
	NgsiVersion string `json:"ngsiVersion,omitempty"`
	// Polling is kept, not used.
	Polling *bool `json:"polling,omitempty"`
	// TokenCreated is when the device's token was made (GridEdge; output
	// only): a device with a token must send it with every reading.
	TokenCreated *time.Time `json:"token_created,omitempty"`
}

// LayerOf maps a fiware-service to the layer its devices write to: the
// service with '_' turned into '-' (FIWARE services are lower-case letters,
// digits and '_'; layer names cannot hold '_', the store's separator).
func LayerOf(service string) (string, error) {
	l := strings.ReplaceAll(service, "_", "-")
	if err := CheckName("layer", l); err != nil {
		return "", fmt.Errorf("fiware-service %q: %w", service, err)
	}
	return l, nil
}

// CheckServicePath checks a fiware-servicepath: it starts with '/' and has
// at most 50 characters.
func CheckServicePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("fiware-servicepath %q does not start with '/'", p)
	}
	if len(p) > 50 {
		return fmt.Errorf("fiware-servicepath %q is longer than 50 characters", p)
	}
	return nil
}

// CheckType checks an entity type: a collection of the service's layer.
func CheckType(what, t string) error {
	if strings.Contains(t, "_") {
		return fmt.Errorf("%s %q holds '_': an entity type names a collection of the service's layer, and '_' separates layer and collection in the store", what, t)
	}
	if err := CheckName("collection", t); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// Merge overlays the JSON object patch on the JSON encoding of cur and
// decodes the result into out (a partial update of PUT).
func Merge(cur any, patch []byte, out any) error {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return err
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range p {
		m[k] = v
	}
	b, err = json.Marshal(m)
	if err != nil {
		return err
	}
	return DecodeStrict(b, out)
}

// CheckGroup validates a group read from a request (its service and
// subservice set from the headers).
func CheckGroup(g *Group) *Error {
	if g.EntityType == "" {
		g.EntityType, g.Type = g.Type, ""
	} else if g.Type != "" && g.Type != g.EntityType {
		return WrongSyntax("entity_type %q and type %q differ", g.EntityType, g.Type)
	}
	g.Type = ""
	var missing []string
	if g.APIKey == "" {
		missing = append(missing, "apikey")
	}
	if g.Resource == "" {
		missing = append(missing, "resource")
	}
	if g.EntityType == "" {
		missing = append(missing, "entity_type")
	}
	if len(missing) > 0 {
		return WrongSyntax("config group %s: missing %s", g.APIKey, strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(g.Resource, "/") {
		return WrongSyntax("config group %s: resource %q does not start with '/'", g.APIKey, g.Resource)
	}
	if strings.ContainsAny(g.APIKey, "/+#") {
		return WrongSyntax("config group: apikey %q holds '/', '+' or '#', which MQTT topics cannot", g.APIKey)
	}
	if err := CheckType("entity_type", g.EntityType); err != nil {
		return WrongSyntax("config group %s: %v", g.APIKey, err)
	}
	if e := CheckLanguage(g.ExpressionLanguage); e != nil {
		return e
	}
	if g.EntityNameExp != "" {
		if _, err := expression.Compile(g.EntityNameExp, expression.Options{}); err != nil {
			return WrongSyntax("config group %s: entityNameExp: %v", g.APIKey, err)
		}
	}
	return CheckMapping("config group "+g.APIKey, g.Attributes, g.StaticAttributes, g.ExplicitAttrs)
}

// CheckLanguage accepts expressionLanguage "" and "jexl" (3.3.0 removed
// "legacy").
func CheckLanguage(l string) *Error {
	switch l {
	case "", "jexl":
		return nil
	case "legacy":
		return &Error{Code: http.StatusBadRequest, Name: NameUnsupportedLanguage, Message: "expressionLanguage legacy was removed in iotagent-node-lib 3.3.0; use jexl (or leave it out)"}
	}
	return &Error{Code: http.StatusBadRequest, Name: NameUnsupportedLanguage, Message: fmt.Sprintf("expressionLanguage %q is not jexl", l)}
}

// CheckMapping validates attributes with the transformation engine.
func CheckMapping(what string, attrs []transform.Attribute, statics []transform.StaticAttribute, x *transform.ExplicitAttrs) *Error {
	for i, a := range attrs {
		if a.EntityType != "" {
			if err := CheckType(fmt.Sprintf("attributes[%d].entity_type", i), a.EntityType); err != nil {
				return WrongSyntax("%s: %v", what, err)
			}
		}
	}
	d := transform.Device{DeviceID: "x", Attributes: attrs, StaticAttributes: statics}
	if x != nil {
		d.ExplicitAttrs = *x
	}
	if err := (&transform.Config{Devices: []transform.Device{d}}).Validate(); err != nil {
		return WrongSyntax("%s: %s", what, strings.ReplaceAll(err.Error(), "devices[0].", ""))
	}
	return nil
}

// CheckDevice validates a device read from a request.
func CheckDevice(d *Device) *Error {
	if strings.TrimSpace(d.DeviceID) == "" {
		return WrongSyntax("device_id is required")
	}
	if strings.ContainsAny(d.DeviceID, "/+#") {
		return WrongSyntax("device_id %q holds '/', '+' or '#', which MQTT topics cannot", d.DeviceID)
	}
	if d.EntityType != "" {
		if err := CheckType("entity_type", d.EntityType); err != nil {
			return WrongSyntax("device %s: %v", d.DeviceID, err)
		}
	}
	d.TokenCreated = nil // output only
	return CheckMapping("device "+d.DeviceID, d.Attributes, d.StaticAttributes, d.ExplicitAttrs)
}

// EntityName is a device's entity name: its own, else
// <entity_type><conjunction><device_id> as the IoT agents make it.
func EntityName(d *Device, g *Group) string {
	if d.EntityName != "" {
		return d.EntityName
	}
	conj := DefaultConjunction
	if g != nil && g.DefaultEntityNameConjunction != "" {
		conj = g.DefaultEntityNameConjunction
	}
	return d.EntityType + conj + d.DeviceID
}

// Compiled is what a reading of one device needs: its document and the
// transformation of its attributes merged with its group's.
type Compiled struct {
	// Doc is the device's document.
	Doc transform.Document
	// Tr is the transformation of its attributes.
	Tr *transform.Transformer
}

// Compile builds the transformation of device d in group g (g may be nil).
func Compile(d *Device, g *Group) (*Compiled, error) {
	layer, err := LayerOf(d.Service)
	if err != nil {
		return nil, err
	}
	typ := d.EntityType
	if typ == "" && g != nil {
		typ = g.EntityType
	}
	doc := transform.Document{Layer: layer, Collection: typ, ID: EntityName(&Device{DeviceID: d.DeviceID, EntityName: d.EntityName, EntityType: typ}, g)}
	var cfg transform.Config
	if g != nil {
		tg := transform.Group{EntityType: layer + "_" + typ, Attributes: g.Attributes, StaticAttributes: g.StaticAttributes}
		if g.ExplicitAttrs != nil {
			tg.ExplicitAttrs = *g.ExplicitAttrs
		}
		cfg.Groups = append(cfg.Groups, tg)
	}
	td := transform.Device{DeviceID: doc.ID, Attributes: d.Attributes, StaticAttributes: d.StaticAttributes}
	if d.ExplicitAttrs != nil {
		td.ExplicitAttrs = *d.ExplicitAttrs
	}
	cfg.Devices = append(cfg.Devices, td)
	tr, err := transform.New(&cfg)
	if err != nil {
		return nil, fmt.Errorf("compile the mappings of device %s: %w", d.DeviceID, err)
	}
	return &Compiled{Doc: doc, Tr: tr}, nil
}

// Apply transforms measure objects of the device read at now into
// updates. A measure TimeInstant holding an RFC 3339 date is the reading's
// time (and is not a measure).
func (c *Compiled) Apply(objs []map[string]any, now time.Time) []model.Update {
	var updates []model.Update
	for _, m := range objs {
		r := transform.Reading{Device: c.Doc, Values: m, TS: now}
		if ts, ok := m["TimeInstant"]; ok {
			if t, ok := ts.(string); ok {
				if pt, err := time.Parse(time.RFC3339Nano, t); err == nil {
					r.TS = pt
					delete(m, "TimeInstant")
				}
			}
		}
		updates = append(updates, c.Tr.Apply(&r)...)
	}
	return updates
}

// CheckName checks a layer or collection name as the hub's store does:
// 1 to 64 letters, digits and '-' (and '_' in collections).
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s name is empty", what)
	}
	if len(s) > 64 {
		return fmt.Errorf("%s name %q is longer than 64 characters", what, s)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || (r == '_' && what != "layer")
		if !ok {
			extra := " and '_'"
			if what == "layer" {
				extra = ""
			}
			return fmt.Errorf("%s name %q may only hold letters, digits and '-'%s", what, s, extra)
		}
	}
	return nil
}
