package transform

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/model"
)

// Document names a document: the device's default document, or a target.
type Document struct {
	// Layer names the layer.
	Layer string
	// Collection names the collection inside the layer.
	Collection string
	// ID is the document's _id.
	ID string
}

// Reading is what a device reported at one time.
type Reading struct {
	// Device is the device's default document.
	Device Document
	// Values maps measure names (object_id) to values.
	Values map[string]any
	// Quality maps measure names to quality codes (default model.QualityGood).
	Quality map[string]int
	// Timestamps maps measure names to the time each was read (default TS).
	Timestamps map[string]time.Time
	// TS is when the reading was made.
	TS time.Time
	// Extra are other fields to write to the device's document as they are.
	Extra map[string]any
}

// Stats counts expression failures.
type Stats struct {
	// Errors counts expressions that failed at run time (the attribute was dropped).
	Errors uint64 `json:"errors"`
}

// Transformer applies a Config. It is immutable after New and safe for
// concurrent use.
type Transformer struct {
	devices map[string]*mapping // by device_id
	groups  map[string]*mapping // by collection
	errors  atomic.Uint64
}

// mapping is a compiled device or group (devices merged with their group
// at lookup).
type mapping struct {
	entityName string
	entityType string
	attrs      []*attr
	statics    []StaticAttribute
	explicit   *explicit
	group      *mapping // a device's group, resolved lazily by collection
}

type attr struct {
	src        string // measure name: object_id or name
	name       string
	objectID   string
	prog       *expression.Program
	vars       []string
	skip       any
	entityName string
	entityProg *expression.Program
	entityType string
}

type explicit struct {
	kind explicitKind
	b    bool
	list []any
	prog *expression.Program
}

// New compiles c; problems are reported all at once as config.Errors.
func New(c *Config) (*Transformer, error) {
	t, es := build(c)
	if err := es.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

func build(c *Config) (*Transformer, config.Errors) {
	var es config.Errors
	t := &Transformer{devices: map[string]*mapping{}, groups: map[string]*mapping{}}
	for i := range c.Groups {
		g := &c.Groups[i]
		p := config.Index("groups", i)
		checkEntityType(&es, config.Join(p, "entity_type"), g.EntityType)
		if _, dup := t.groups[g.EntityType]; dup {
			es.Add(config.Join(p, "entity_type"), "%q has another group", g.EntityType)
		}
		t.groups[g.EntityType] = compileMapping(&es, p, "", "", g.Attributes, g.StaticAttributes, g.ExplicitAttrs)
	}
	for i := range c.Devices {
		d := &c.Devices[i]
		p := config.Index("devices", i)
		if strings.TrimSpace(d.DeviceID) == "" {
			es.Add(config.Join(p, "device_id"), "is required")
		}
		if _, dup := t.devices[d.DeviceID]; dup {
			es.Add(config.Join(p, "device_id"), "%q is provisioned twice", d.DeviceID)
		}
		if d.EntityType != "" {
			checkEntityType(&es, config.Join(p, "entity_type"), d.EntityType)
		}
		t.devices[d.DeviceID] = compileMapping(&es, p, d.EntityName, d.EntityType, d.Attributes, d.StaticAttributes, d.ExplicitAttrs)
	}
	return t, es
}

func compileMapping(es *config.Errors, p, entityName, entityType string, attrs []Attribute, statics []StaticAttribute, x ExplicitAttrs) *mapping {
	validateAttributes(es, p, attrs)
	validateStatics(es, p, statics)
	m := &mapping{entityName: entityName, entityType: entityType, statics: statics}
	for i := range attrs {
		a := &attrs[i]
		ca := &attr{src: a.ObjectID, name: a.Name, objectID: a.ObjectID, skip: a.SkipValue, entityName: a.EntityName, entityType: a.EntityType}
		if ca.src == "" {
			ca.src = a.Name
		}
		if a.Expression != "" {
			if prog, err := expression.Compile(a.Expression, expression.Options{}); err == nil {
				ca.prog, ca.vars = prog, prog.Vars()
			}
		}
		if a.EntityName != "" {
			if prog, err := expression.Compile(a.EntityName, expression.Options{}); err == nil {
				ca.entityProg = prog
			}
		}
		m.attrs = append(m.attrs, ca)
	}
	if x.IsSet() {
		ex := &explicit{kind: x.kind, b: x.Bool, list: x.List}
		if x.kind == explicitExpr {
			prog, err := expression.Compile(x.Expr, expression.Options{})
			if err != nil {
				es.Add(config.Join(p, "explicitAttrs"), "%v", err)
			} else if len(prog.Vars()) == 0 {
				// a constant such as "['attr1','attr2']": evaluate once
				v, err := prog.Eval(nil)
				switch tv := v.(type) {
				case []any:
					ex.kind, ex.list = explicitList, tv
				case bool:
					ex.kind, ex.b = explicitBool, !tv // expression true means "everything"
				default:
					if err == nil {
						err = fmt.Errorf("want a boolean or an array, got %v", v)
					}
					es.Add(config.Join(p, "explicitAttrs"), "%v", err)
				}
			} else {
				ex.prog = prog
			}
		}
		m.explicit = ex
	}
	return m
}

// Stats returns the counters.
func (t *Transformer) Stats() Stats { return Stats{Errors: t.errors.Load()} }

// lookup returns the device's mappings: its device mapping and its group
// (either may be nil).
func (t *Transformer) lookup(d *Document) (dev, grp *mapping) {
	dev = t.devices[d.ID]
	grp = t.groups[d.Layer+"_"+d.Collection]
	return dev, grp
}

// Handles tells whether t has a mapping for the device's document.
func (t *Transformer) Handles(d Document) bool {
	dev, grp := t.lookup(&d)
	return dev != nil || grp != nil
}

// Apply turns a reading into document updates: the device's document
// first, then other documents in order of (collection, id). A device
// without mapping writes every measure under its own name.
func (t *Transformer) Apply(r *Reading) []model.Update {
	dev, grp := t.lookup(&r.Device)
	target := r.Device
	if dev != nil {
		if dev.entityType != "" {
			target.Layer, target.Collection = splitType(dev.entityType, r.Device.Layer)
		}
		if dev.entityName != "" {
			target.ID = dev.entityName
		}
	}
	// attributes: device first, then the group's not overridden
	var attrs []*attr
	var statics []StaticAttribute
	var ex *explicit
	if dev != nil {
		attrs, statics, ex = dev.attrs, dev.statics, dev.explicit
	}
	if grp != nil {
		if ex == nil {
			ex = grp.explicit
		}
		if dev == nil {
			attrs, statics = grp.attrs, grp.statics
		} else {
			attrs = mergeAttrs(attrs, grp.attrs)
			statics = mergeStatics(statics, grp.statics)
		}
	}

	ctx := make(map[string]any, len(r.Values)+len(statics)+2)
	for _, s := range statics {
		ctx[s.Name] = s.Value
	}
	ctx["id"] = target.ID
	ctx["type"] = target.Layer + "_" + target.Collection
	for k, v := range r.Values {
		ctx[k] = v
	}

	mode, list := t.explicitMode(ex, ctx)
	docs := map[Document]map[string]model.Measurement{}
	add := func(d Document, name string, m model.Measurement) {
		ms := docs[d]
		if ms == nil {
			ms = map[string]model.Measurement{}
			docs[d] = ms
		}
		ms[name] = m
	}
	consumed := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		consumed[a.src] = true
		if mode == selectList && !listed(list, a.name, a.objectID) {
			continue
		}
		var (
			v       any
			ok      bool
			quality = model.QualityGood
			ts      = r.TS
		)
		if a.prog != nil && allPresent(a.vars, ctx) {
			res, err := a.prog.Eval(ctx)
			if err != nil {
				t.errors.Add(1)
				continue
			}
			if equalSkip(res, a.skip) {
				continue
			}
			v, ok = res, true
			for _, name := range a.vars {
				if q, has := r.Quality[name]; has && q != model.QualityGood && quality == model.QualityGood {
					quality = q
				}
				if mt, has := r.Timestamps[name]; has && mt.After(ts) {
					ts = mt
				}
			}
		} else if raw, has := r.Values[a.src]; has {
			v, ok = raw, true
			if q, has := r.Quality[a.src]; has {
				quality = q
			}
			if mt, has := r.Timestamps[a.src]; has {
				ts = mt
			}
		}
		if !ok {
			continue
		}
		d := target
		if a.entityName != "" || a.entityType != "" {
			d = r.Device
			d.ID = target.ID
			d.Layer, d.Collection = target.Layer, target.Collection
			if a.entityType != "" {
				d.Layer, d.Collection = splitType(a.entityType, target.Layer)
			}
			if a.entityName != "" {
				d.ID = t.entityName(a, ctx)
			}
		}
		add(d, a.name, model.Measurement{Value: v, Quality: quality, Timestamp: ts.UTC()})
	}
	if mode != selectDefined {
		for name, v := range r.Values {
			if consumed[name] || (mode == selectList && !listed(list, name, "")) {
				continue
			}
			m := model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: r.TS.UTC()}
			if q, has := r.Quality[name]; has {
				m.Quality = q
			}
			if mt, has := r.Timestamps[name]; has {
				m.Timestamp = mt.UTC()
			}
			add(target, name, m)
		}
	}

	out := make([]model.Update, 0, len(docs)+1)
	if ms, ok := docs[target]; ok || len(statics) > 0 || len(r.Extra) > 0 {
		var u model.Update
		if ok {
			u = model.MeasurementUpdate(target.Layer, target.Collection, target.ID, r.TS, ms)
		} else {
			u = model.Update{Layer: target.Layer, Collection: target.Collection, ID: target.ID, Set: map[string]any{}, TS: r.TS.UTC()}
		}
		for _, s := range statics {
			if mode == selectList && !listed(list, s.Name, "") {
				continue
			}
			u.Set[s.Name] = s.Value
		}
		for k, v := range r.Extra {
			u.Set[k] = v
		}
		if len(u.Set) > 0 {
			out = append(out, u)
		}
		delete(docs, target)
	}
	others := make([]Document, 0, len(docs))
	for d := range docs {
		others = append(others, d)
	}
	sort.Slice(others, func(i, j int) bool {
		a, b := others[i], others[j]
		if a.Layer+"_"+a.Collection != b.Layer+"_"+b.Collection {
			return a.Layer+"_"+a.Collection < b.Layer+"_"+b.Collection
		}
		return a.ID < b.ID
	})
	for _, d := range others {
		out = append(out, model.MeasurementUpdate(d.Layer, d.Collection, d.ID, r.TS, docs[d]))
	}
	return out
}

// Process is the pipeline stage: every update of a document that has a
// mapping is read as a reading (measurements.<name> values, qualities and
// timestamps; other fields except measurementsTimestamp carried over) and
// replaced by Apply's updates; other updates pass unchanged (updates
// itself is returned when no update has a mapping).
func (t *Transformer) Process(updates []model.Update) []model.Update {
	var out []model.Update
	changed := false
	for i := range updates {
		u := &updates[i]
		d := Document{Layer: u.Layer, Collection: u.Collection, ID: u.ID}
		if !t.Handles(d) {
			if changed {
				out = append(out, *u)
			}
			continue
		}
		if !changed {
			changed = true
			out = append(make([]model.Update, 0, len(updates)+2), updates[:i]...)
		}
		out = append(out, t.Apply(ReadingOf(u))...)
	}
	if !changed {
		return updates
	}
	return out
}

// ReadingOf reads a measurement update as a reading.
func ReadingOf(u *model.Update) *Reading {
	r := &Reading{Device: Document{Layer: u.Layer, Collection: u.Collection, ID: u.ID}, TS: u.TS,
		Values: make(map[string]any, len(u.Set)), Quality: make(map[string]int, len(u.Set)), Timestamps: make(map[string]time.Time, len(u.Set))}
	for k, v := range u.Set {
		name, isM := strings.CutPrefix(k, model.MeasurementsPrefix)
		switch {
		case isM:
			switch m := v.(type) {
			case model.Measurement:
				r.Values[name], r.Quality[name] = m.Value, m.Quality
				if !m.Timestamp.IsZero() {
					r.Timestamps[name] = m.Timestamp
				}
			case map[string]any:
				r.Values[name] = m["value"]
				if q, ok := m["quality"].(int); ok {
					r.Quality[name] = q
				} else if q, ok := m["quality"].(float64); ok {
					r.Quality[name] = int(q)
				}
			default:
				r.Values[name] = v
			}
		case k == model.MeasurementsTimestampField:
		default:
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			r.Extra[k] = v
		}
	}
	return r
}

// selection is what explicitAttrs lets through for one reading.
type selection uint8

const (
	selectAll     selection = iota // every measure
	selectDefined                  // attributes and static attributes only
	selectList                     // those named in the list
)

// explicitMode resolves explicitAttrs for one reading.
func (t *Transformer) explicitMode(ex *explicit, ctx map[string]any) (selection, []any) {
	if ex == nil {
		return selectAll, nil
	}
	switch ex.kind {
	case explicitBool:
		if ex.b {
			return selectDefined, nil
		}
		return selectAll, nil
	case explicitList:
		return selectList, ex.list
	}
	v, err := ex.prog.Eval(ctx)
	if err != nil {
		t.errors.Add(1)
		return selectAll, nil
	}
	switch tv := v.(type) {
	case []any:
		return selectList, tv
	case bool:
		if !tv {
			return selectDefined, nil
		}
	}
	return selectAll, nil
}

// entityName evaluates an attribute's entity_name.
func (t *Transformer) entityName(a *attr, ctx map[string]any) string {
	if a.entityProg != nil {
		if v, err := a.entityProg.Eval(ctx); err == nil {
			switch tv := v.(type) {
			case string:
				if tv != "" {
					return tv
				}
			case float64:
				return strconv.FormatFloat(tv, 'f', -1, 64)
			}
		}
	}
	return a.entityName
}

// splitType turns an entity type into layer and collection.
func splitType(t, defLayer string) (string, string) {
	if l, c, ok := strings.Cut(t, "_"); ok {
		return l, c
	}
	return defLayer, t
}

func allPresent(vars []string, ctx map[string]any) bool {
	for _, v := range vars {
		if _, ok := ctx[v]; !ok {
			return false
		}
	}
	return true
}

// equalSkip compares an expression result with skipValue (nil matches
// null and undefined, which Eval both returns as nil).
func equalSkip(v, skip any) bool {
	if skip == nil || v == nil {
		return v == nil && skip == nil
	}
	if a, ok := toFloat(v); ok {
		b, ok := toFloat(skip)
		return ok && a == b
	}
	return reflect.DeepEqual(v, skip)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// listed tells whether an explicitAttrs array names the attribute.
func listed(list []any, name, objectID string) bool {
	for _, e := range list {
		switch t := e.(type) {
		case string:
			if t == name {
				return true
			}
		case map[string]any:
			if id, ok := t["object_id"].(string); ok && objectID != "" && id == objectID {
				return true
			}
		}
	}
	return false
}

func mergeAttrs(dev, grp []*attr) []*attr {
	out := append([]*attr(nil), dev...)
	for _, g := range grp {
		overridden := false
		for _, d := range dev {
			overridden = overridden || d.src == g.src
		}
		if !overridden {
			out = append(out, g)
		}
	}
	return out
}

func mergeStatics(dev, grp []StaticAttribute) []StaticAttribute {
	out := append([]StaticAttribute(nil), dev...)
	for _, g := range grp {
		overridden := false
		for _, d := range dev {
			overridden = overridden || d.Name == g.Name
		}
		if !overridden {
			out = append(out, g)
		}
	}
	return out
}
