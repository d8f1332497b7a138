package transform

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// Transformer applies a Config. Its configuration is immutable after New
// (the only state added later is a cache of merged device and group
// mappings) and it is safe for concurrent use.
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
	plan       *plan    // the mapping alone
	withGroup  sync.Map // *mapping (group) -> *plan, the device merged with a group
}

type attr struct {
	src        string // measure name: object_id or name
	name       string
	key        string   // measurements.<name>
	srcKey     string   // measurements.<src>
	varKeys    []string // measurements.<var> for each of vars
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
		ca := &attr{name: a.Name, key: model.MeasurementsPrefix + a.Name, objectID: a.ObjectID, skip: a.SkipValue, entityName: a.EntityName, entityType: a.EntityType}
		ca.src = a.ObjectID
		if ca.src == "" {
			ca.src = a.Name
		}
		ca.srcKey = model.MeasurementsPrefix + ca.src
		if a.Expression != "" {
			if prog, err := expression.Compile(a.Expression, expression.Options{}); err == nil {
				ca.prog, ca.vars = prog, prog.Vars()
				for _, v := range ca.vars {
					ca.varKeys = append(ca.varKeys, model.MeasurementsPrefix+v)
				}
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
	m.plan = newPlan(m.attrs, m.statics, m.explicit)
	return m
}

// Stats returns the counters.
func (t *Transformer) Stats() Stats { return Stats{Errors: t.errors.Load()} }

// lookup returns the device's mappings: its device mapping and its group
// (either may be nil).
func (t *Transformer) lookup(d *Document) (dev, grp *mapping) {
	if len(t.devices) > 0 {
		dev = t.devices[d.ID]
	}
	if len(t.groups) > 0 { // spares the key's concatenation and hash
		grp = t.groups[d.Layer+"_"+d.Collection]
	}
	return dev, grp
}

// Handles tells whether t has a mapping for the device's document.
func (t *Transformer) Handles(d Document) bool {
	dev, grp := t.lookup(&d)
	return dev != nil || grp != nil
}

// plan is what applies to a device: its attributes (device first, then
// the group's not overridden), static attributes and explicitAttrs. The
// merge allocates, so it is done once per (device, group) pair.
type plan struct {
	attrs    []*attr
	statics  []StaticAttribute
	explicit *explicit
	// consumed holds the measure names an attribute takes, which are not
	// written under their own name.
	consumed map[string]bool
	exprs    int // attributes with an expression
}

func newPlan(attrs []*attr, statics []StaticAttribute, ex *explicit) *plan {
	p := &plan{attrs: attrs, statics: statics, explicit: ex, consumed: make(map[string]bool, len(attrs))}
	for _, a := range attrs {
		p.consumed[a.src] = true
		if a.prog != nil {
			p.exprs++
		}
	}
	return p
}

// emptyPlan is the plan of a device without mapping: every measure under
// its own name.
var emptyPlan = newPlan(nil, nil, nil)

// planFor returns the plan of a device with mapping dev and group grp.
func planFor(dev, grp *mapping) *plan {
	switch {
	case dev == nil && grp == nil:
		return emptyPlan
	case grp == nil:
		return dev.plan
	case dev == nil:
		return grp.plan
	}
	if p, ok := dev.withGroup.Load(grp); ok {
		return p.(*plan)
	}
	ex := dev.explicit
	if ex == nil {
		ex = grp.explicit
	}
	p, _ := dev.withGroup.LoadOrStore(grp, newPlan(mergeAttrs(dev.attrs, grp.attrs), mergeStatics(dev.statics, grp.statics), ex))
	return p.(*plan)
}

// measure is what a reading holds for one measure name.
type measure struct {
	value      any
	has        bool // value is present
	quality    int
	hasQuality bool
	ts         time.Time
	hasTS      bool
	// orig is, for a reading read from an update, the Set value the
	// measure came from, so that an unchanged measurement is written as
	// the same interface value instead of being boxed again.
	orig any
}

// source is a reading: a *Reading (Apply) or an update read in place
// (Process), which spares Process the maps of ReadingOf. (A struct rather
// than an interface, so that the callbacks given to it stay on the stack.)
type source struct {
	r *Reading      // Apply
	u *model.Update // Process, when r is nil
}

func (s source) device() Document {
	if s.r != nil {
		return s.r.Device
	}
	return Document{Layer: s.u.Layer, Collection: s.u.Collection, ID: s.u.ID}
}

// size is an upper bound of the fields the source writes as they are.
func (s source) size() int {
	if s.r != nil {
		return len(s.r.Values) + len(s.r.Extra)
	}
	return len(s.u.Set)
}

func (s source) ts() time.Time {
	if s.r != nil {
		return s.r.TS
	}
	return s.u.TS
}

// measure returns the value, quality and timestamp of a measure name (key
// is its Set key); for a Reading each part is looked up on its own, as its
// maps are independent.
func (s source) measure(name, key string) measure {
	if s.r != nil {
		var m measure
		m.value, m.has = s.r.Values[name]
		m.quality, m.hasQuality = s.r.Quality[name]
		m.ts, m.hasTS = s.r.Timestamps[name]
		return m
	}
	v, ok := s.u.Set[key]
	if !ok {
		return measure{}
	}
	return measureOf(v)
}

// measures calls f with every measure and the Set key it came from ("" for
// a Reading).
func (s source) measures(f func(name, key string, m measure)) {
	if s.r != nil {
		for name := range s.r.Values {
			m := s.measure(name, "")
			f(name, "", m)
		}
		return
	}
	for k, v := range s.u.Set {
		if name, ok := strings.CutPrefix(k, model.MeasurementsPrefix); ok {
			m := measureOf(v)
			f(name, k, m)
		}
	}
}

// extra calls f with every other field to write as it is.
func (s source) extra(f func(k string, v any)) {
	if s.r != nil {
		for k, v := range s.r.Extra {
			f(k, v)
		}
		return
	}
	for k, v := range s.u.Set {
		if !strings.HasPrefix(k, model.MeasurementsPrefix) && k != model.MeasurementsTimestampField {
			f(k, v)
		}
	}
}

// measureOf reads the value of a measurements.<name> field (ReadingOf's
// rules): a measurement in any of its forms (model.MeasurementOf, whose
// map form defaults the quality to good), else a plain value of good
// quality at the reading's time.
func measureOf(v any) measure {
	m, ok := v.(model.Measurement) // the edge's form, read without a call on the hot path
	if !ok {
		if m, ok = model.MeasurementOf(v); !ok {
			return measure{value: v, has: true}
		}
	}
	return measure{value: m.Value, has: true, quality: m.Quality, hasQuality: true, ts: m.Timestamp, hasTS: !m.Timestamp.IsZero(), orig: v}
}

// Apply turns a reading into document updates: the device's document
// first, then other documents in order of (collection, id). A device
// without mapping writes every measure under its own name.
func (t *Transformer) Apply(r *Reading) []model.Update {
	dev, grp := t.lookup(&r.Device)
	return t.apply(nil, dev, grp, source{r: r})
}

// apply is Apply for any source; it appends the updates to out.
func (t *Transformer) apply(out []model.Update, dev, grp *mapping, src source) []model.Update {
	p := planFor(dev, grp)
	device, rts := src.device(), src.ts()
	target := device
	if dev != nil {
		if dev.entityType != "" {
			target.Layer, target.Collection = splitType(dev.entityType, device.Layer)
		}
		if dev.entityName != "" {
			target.ID = dev.entityName
		}
	}
	typ := func() string { return target.Layer + "_" + target.Collection }

	// The context of expressions, as a map, is only built for the
	// expressions that need one (explicitAttrs and entity_name
	// expressions, relative filters); attribute expressions get their
	// variables one by one (resolve).
	var ctx map[string]any
	ctxMap := func() map[string]any {
		if ctx == nil {
			ctx = make(map[string]any, len(p.statics)+16)
			for _, s := range p.statics {
				ctx[s.Name] = s.Value
			}
			ctx["id"] = target.ID
			ctx["type"] = typ()
			src.measures(func(name, _ string, m measure) { ctx[name] = m.value })
		}
		return ctx
	}
	// resolve returns a context variable: a measure, else id or type,
	// else a static attribute.
	resolve := func(name string, m *measure) (any, bool) {
		if m.has {
			return m.value, true
		}
		switch name {
		case "id":
			return target.ID, true
		case "type":
			return typ(), true
		}
		for _, s := range p.statics {
			if s.Name == name {
				return s.Value, true
			}
		}
		return nil, false
	}

	mode, list := t.explicitMode(p.explicit, ctxMap)
	// the target's Set is built in place; other documents (multi-entity)
	// are collected and sorted at the end
	// the size hint: an attribute without expression takes the place of
	// the measure it consumes, an expression may add one (an oversized map
	// costs more groups to allocate)
	size := len(p.attrs) + len(p.statics) + 1
	if mode != selectDefined {
		size = src.size() + p.exprs + len(p.statics) + 1
	}
	set := make(map[string]any, size)
	wrote := false // a measurement of the target
	var others map[Document]map[string]model.Measurement
	for _, a := range p.attrs {
		if mode == selectList && !listed(list, a.name, a.objectID) {
			continue
		}
		var (
			v       any
			ok      bool
			orig    any // the input value, if v is written unchanged
			quality = model.QualityGood
			ts      = rts
		)
		if a.prog != nil {
			var buf [8]any
			vals := buf[:0]
			evalQuality, evalTS := model.QualityGood, rts
			present := true
			for i, name := range a.vars {
				m := src.measure(name, a.varKeys[i])
				x, has := resolve(name, &m)
				if !has {
					present = false
					break
				}
				vals = append(vals, x)
				if m.hasQuality && m.quality != model.QualityGood && evalQuality == model.QualityGood {
					evalQuality = m.quality
				}
				if m.hasTS && m.ts.After(evalTS) {
					evalTS = m.ts
				}
			}
			if present {
				var res any
				var err error
				if a.prog.VarsOnly() {
					res, err = a.prog.EvalVars(vals)
				} else {
					res, err = a.prog.Eval(ctxMap())
				}
				if err != nil {
					t.errors.Add(1)
					continue
				}
				if equalSkip(res, a.skip) {
					continue
				}
				v, ok, quality, ts = res, true, evalQuality, evalTS
			}
		}
		if !ok {
			if m := src.measure(a.src, a.srcKey); m.has {
				v, ok, orig = m.value, true, m.orig
				if m.hasQuality {
					quality = m.quality
				}
				if m.hasTS {
					ts = m.ts
				}
			}
		}
		if !ok {
			continue
		}
		mt := model.Measurement{Value: v, Quality: quality, Timestamp: ts.UTC()}
		if a.entityName == "" && a.entityType == "" {
			set[a.key] = reuse(orig, &mt)
			wrote = true
			continue
		}
		d := device
		d.ID = target.ID
		d.Layer, d.Collection = target.Layer, target.Collection
		if a.entityType != "" {
			d.Layer, d.Collection = splitType(a.entityType, target.Layer)
		}
		if a.entityName != "" {
			d.ID = t.entityName(a, ctxMap)
		}
		if d == target {
			set[a.key] = reuse(orig, &mt)
			wrote = true
			continue
		}
		if others == nil {
			others = map[Document]map[string]model.Measurement{}
		}
		ms := others[d]
		if ms == nil {
			ms = map[string]model.Measurement{}
			others[d] = ms
		}
		ms[a.name] = mt
	}
	// passthrough writes a measure that no attribute consumes under its
	// own name
	passthrough := func(name, key string, m *measure) {
		if (len(p.consumed) > 0 && p.consumed[name]) || (mode == selectList && !listed(list, name, "")) {
			return
		}
		mt := model.Measurement{Value: m.value, Quality: model.QualityGood, Timestamp: rts.UTC()}
		if m.hasQuality {
			mt.Quality = m.quality
		}
		if m.hasTS {
			mt.Timestamp = m.ts.UTC()
		}
		if key == "" {
			key = model.MeasurementsPrefix + name
		}
		set[key] = reuse(m.orig, &mt)
		wrote = true
	}
	statics := func() {
		for _, s := range p.statics {
			if mode == selectList && !listed(list, s.Name, "") {
				continue
			}
			set[s.Name] = s.Value
		}
	}
	if src.r != nil {
		if mode != selectDefined {
			src.measures(func(name, key string, m measure) { passthrough(name, key, &m) })
		}
		if wrote {
			set[model.MeasurementsTimestampField] = rts.UTC()
		}
		statics()
		src.extra(func(k string, v any) { set[k] = v })
	} else {
		// An update is read in one pass: its measures (passed through),
		// its measurementsTimestamp and its other fields. The order of the
		// writes is that of the Reading case above: static attributes (no
		// measurement key, nor measurementsTimestamp, by validation) before
		// the update's other fields, which override them.
		statics()
		var uts any // the update's measurementsTimestamp
		for k, v := range src.u.Set {
			if name, ok := strings.CutPrefix(k, model.MeasurementsPrefix); ok {
				if mode != selectDefined {
					m := measureOf(v)
					passthrough(name, k, &m)
				}
				continue
			}
			if k == model.MeasurementsTimestampField {
				uts = v
				continue
			}
			set[k] = v
		}
		if wrote {
			ts := rts.UTC()
			if t, ok := uts.(time.Time); !ok || t != ts { // else the same representation: reuse it
				uts = ts
			}
			set[model.MeasurementsTimestampField] = uts
		}
	}
	if len(set) > 0 {
		out = append(out, model.Update{Layer: target.Layer, Collection: target.Collection, ID: target.ID, Set: set, TS: rts.UTC()})
	}
	if len(others) == 0 {
		return out
	}
	docs := make([]Document, 0, len(others))
	for d := range others {
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool {
		a, b := docs[i], docs[j]
		if a.Layer+"_"+a.Collection != b.Layer+"_"+b.Collection {
			return a.Layer+"_"+a.Collection < b.Layer+"_"+b.Collection
		}
		return a.ID < b.ID
	})
	for _, d := range docs {
		out = append(out, model.MeasurementUpdate(d.Layer, d.Collection, d.ID, rts, others[d]))
	}
	return out
}

// reuse returns orig when it holds exactly m (the same value, quality and
// timestamp representation), else m boxed: writing an unchanged
// measurement then costs no allocation.
func reuse(orig any, m *model.Measurement) any {
	if o, ok := orig.(model.Measurement); ok && o.Quality == m.Quality && o.Timestamp == m.Timestamp {
		// o.Value is m.Value: both were read from orig
		return orig
	}
	return *m
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
		dev, grp := t.lookup(&d)
		if dev == nil && grp == nil {
			if changed {
				out = append(out, *u)
			}
			continue
		}
		if !changed {
			changed = true
			// at most one update per update: only multi-entity mappings
			// (rare) make it grow
			out = append(make([]model.Update, 0, len(updates)), updates[:i]...)
		}
		// the same as t.Apply(ReadingOf(u)), read in place
		out = t.apply(out, dev, grp, source{u: u})
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
	src := source{u: u}
	src.measures(func(name, _ string, m measure) {
		r.Values[name] = m.value
		if m.hasQuality {
			r.Quality[name] = m.quality
		}
		if m.hasTS {
			r.Timestamps[name] = m.ts
		}
	})
	src.extra(func(k string, v any) {
		if r.Extra == nil {
			r.Extra = map[string]any{}
		}
		r.Extra[k] = v
	})
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
// ctx returns the reading's context; it is built only when needed.
func (t *Transformer) explicitMode(ex *explicit, ctx func() map[string]any) (selection, []any) {
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
	v, err := ex.prog.Eval(ctx())
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
func (t *Transformer) entityName(a *attr, ctx func() map[string]any) string {
	if a.entityProg != nil {
		if v, err := a.entityProg.Eval(ctx()); err == nil {
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

// equalSkip compares an expression result with skipValue (nil matches
// null and undefined, which Eval both returns as nil).
func equalSkip(v, skip any) bool {
	if skip == nil || v == nil {
		return v == nil && skip == nil
	}
	if a, ok := model.Float(v); ok {
		b, ok := model.Float(skip)
		return ok && a == b
	}
	return reflect.DeepEqual(v, skip)
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
