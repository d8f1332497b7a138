package vsensor

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/model"
)

// Sentinel errors.
var (
	// ErrMissing: a referenced property is unknown and has no default; the
	// sensor is not computed.
	ErrMissing = errors.New("referenced property is unknown")
	// errUnknownVar: a {name} placeholder names no var.
	errUnknownVar = errors.New("no such var (and not {timestamp} nor {collection.id>property})")
)

// Engine computes the virtual sensors of one Settings. It is safe for
// concurrent use; calls are serialised.
type Engine struct {
	mu      sync.Mutex
	sensors []*sensor
	refs    []*ref
	byDoc   map[docKey][]int // indexes into refs
	trig    []bool           // per sensor, scratch for Observe/Poll
	trigTS  []time.Time
	ctx     evalCtx // scratch for compute, which calls are serialised
}

// SensorStats counts what happened to one sensor.
type SensorStats struct {
	// Outputs counts the updates produced.
	Outputs uint64 `json:"outputs"`
	// Stale counts event-mode recomputations skipped because an input was
	// unknown or older than the window.
	Stale uint64 `json:"stale"`
	// Missing counts polls skipped because an input without default was unknown.
	Missing uint64 `json:"missing"`
	// Errors counts evaluations that failed.
	Errors uint64 `json:"errors"`
	// LastError is the latest evaluation error.
	LastError string `json:"lastError,omitempty"`
}

// ref is one referenced property and its latest known value.
type ref struct {
	key     refKey
	value   any
	have    bool
	seen    time.Time // when it was last updated (Observe's now)
	sensors []int
}

// sensor is one compiled virtual sensor.
type sensor struct {
	name     string // <collection>.<id>, the Stats key
	doc      docKey
	poll     bool
	window   time.Duration
	vars     []node // in evaluation order
	fields   []field
	refs     []int // indexes into Engine.refs, unique
	lastPoll time.Time
	stats    SensorStats
}

// field is one entry of the output's Set.
type field struct {
	key  string
	node node
}

// New compiles settings. Problems are reported all at once, as
// config.Errors with the path of each offending field.
func New(s *Settings) (*Engine, error) {
	e, es := build(s)
	if err := es.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

// build compiles s, collecting every problem.
func build(s *Settings) (*Engine, config.Errors) {
	var es config.Errors
	e := &Engine{byDoc: map[docKey][]int{}}
	refIdx := map[refKey]int{}
	seen := map[string]string{}
	for gi := range s.Sensors {
		g := &s.Sensors[gi]
		gp := config.Index("sensors", gi)
		layer, collection, ok := splitCollection(g.Collection)
		if !ok {
			es.Add(config.Join(gp, "collection"), "%q is not <layer>_<collection>", g.Collection)
		}
		listName := "virtualsensors"
		if len(g.VirtualSensors) > 0 && len(g.VirtuaiSensors) > 0 {
			es.Add(gp, "virtualsensors and virtuaisensors (the seed's misspelling) are exclusive")
		} else if len(g.VirtualSensors) == 0 {
			listName = "virtuaisensors"
		}
		list := g.List()
		if len(list) == 0 {
			es.Add(config.Join(gp, "virtualsensors"), "is empty")
		}
		for si := range list {
			sp := config.Index(config.Join(gp, listName), si)
			sen := compileSensor(&es, sp, &list[si], e, refIdx)
			if sen == nil || !ok {
				continue
			}
			sen.doc = docKey{layer: layer, collection: collection, id: list[si].ID}
			sen.name = g.Collection + "." + list[si].ID
			if prev, dup := seen[sen.name]; dup {
				es.Add(config.Join(sp, "id"), "%q is also the id of %s in collection %q", list[si].ID, prev, g.Collection)
				continue
			}
			seen[sen.name] = sp
			for _, ri := range sen.refs {
				e.refs[ri].sensors = append(e.refs[ri].sensors, len(e.sensors))
			}
			e.sensors = append(e.sensors, sen)
		}
	}
	e.trig = make([]bool, len(e.sensors))
	e.trigTS = make([]time.Time, len(e.sensors))
	return e, es
}

// compileSensor compiles one sensor; it returns nil after recording problems.
func compileSensor(es *config.Errors, path string, s *Sensor, e *Engine, refIdx map[refKey]int) *sensor {
	n := len(*es)
	if s.ID == "" {
		es.Add(config.Join(path, "id"), "is empty")
	}
	if len(s.Template) == 0 {
		es.Add(config.Join(path, "template"), "is empty")
	}
	if _, ok := s.Vars["timestamp"]; ok {
		es.Add(config.Join(config.Join(path, "vars"), "timestamp"), "is reserved for the {timestamp} placeholder")
	}
	sen := &sensor{poll: s.Poll, window: s.window()}
	c := &compiler{es: es, e: e, refIdx: refIdx, sen: sen, varIdx: map[string]int{}}
	c.isVar = func(name string) bool { _, ok := s.Vars[name]; return ok && name != "timestamp" }

	// vars: translate all, then order by dependencies
	names := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		if k != "timestamp" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	deps := map[string][]string{}
	pending := map[string]any{}
	for _, k := range names {
		pending[k] = s.Vars[k]
		if str, ok := s.Vars[k].(string); ok {
			if t, err := translate(str, c.isVar); err == nil {
				for _, a := range t.args {
					if a.kind == argVar {
						deps[k] = append(deps[k], a.name)
					}
				}
			}
		}
	}
	order, cyclic := topoSort(names, deps)
	if len(cyclic) > 0 {
		es.Add(config.Join(path, "vars"), "vars %s depend on each other in a cycle", strings.Join(cyclic, ", "))
	}
	for i, k := range order {
		c.varIdx[k] = i
	}
	for _, k := range order {
		sen.vars = append(sen.vars, c.node(config.Join(config.Join(path, "vars"), k), pending[k]))
	}
	tp := config.Join(path, "template")
	keys := make([]string, 0, len(s.Template))
	for k := range s.Template {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s.Template[k]
		if m, ok := v.(map[string]any); ok && k == "measurements" {
			mk := make([]string, 0, len(m))
			for name := range m {
				mk = append(mk, name)
			}
			sort.Strings(mk)
			for _, name := range mk {
				sen.fields = append(sen.fields, field{key: model.MeasurementsPrefix + name, node: c.node(config.Join(config.Join(tp, k), name), m[name])})
			}
			continue
		}
		sen.fields = append(sen.fields, field{key: k, node: c.node(config.Join(tp, k), v)})
	}
	if !s.Poll && len(sen.refs) == 0 && len(*es) == n {
		es.Add(path, "has no {collection.id>property} reference, so it would never be computed in event mode; set \"poll\": true")
	}
	if len(*es) > n {
		return nil
	}
	return sen
}

// topoSort orders names so that every name comes after its dependencies;
// ties keep the given order. It returns the names left in a cycle.
func topoSort(names []string, deps map[string][]string) (order, cyclic []string) {
	done := map[string]bool{}
	for len(order) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, d := range deps[n] {
				if !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[n] = true
				order = append(order, n)
				progress = true
			}
		}
		if !progress {
			for _, n := range names {
				if !done[n] {
					cyclic = append(cyclic, n)
					order = append(order, n) // compiled anyway so that other errors surface
				}
			}
			break
		}
	}
	return order, cyclic
}

// compiler turns settings values into nodes.
type compiler struct {
	es     *config.Errors
	e      *Engine
	refIdx map[refKey]int
	sen    *sensor
	varIdx map[string]int
	isVar  func(string) bool
}

func (c *compiler) node(path string, v any) node {
	switch t := v.(type) {
	case string:
		tr, err := translate(t, c.isVar)
		if err != nil {
			c.es.Add(path, "%v", err)
			return constNode{}
		}
		if len(tr.args) == 0 {
			return constNode{v: t}
		}
		sn := &strNode{whole: tr.whole, args: make([]arg, len(tr.args)), names: make([]string, len(tr.args))}
		for i, ph := range tr.args {
			sn.names[i] = argName(i)
			sn.args[i] = c.arg(ph)
		}
		if !tr.whole {
			p, err := expression.Compile(tr.src, expression.Options{})
			if err != nil {
				c.es.Add(path, "%q (as expression %q): %v", t, tr.src, err)
				return constNode{}
			}
			sn.prog = p
			if p.VarsOnly() {
				sn.varArgs = make([]int, 0, p.NumVars())
				for _, v := range p.Vars() {
					sn.varArgs = append(sn.varArgs, slices.Index(sn.names, v))
				}
			}
		}
		return sn
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		on := &objectNode{keys: keys, vals: make([]node, len(keys))}
		static := true
		for i, k := range keys {
			on.vals[i] = c.node(config.Join(path, k), t[k])
			_, isConst := on.vals[i].(constNode)
			static = static && isConst
		}
		if static {
			return constNode{v: t}
		}
		return on
	case []any:
		an := &arrayNode{vals: make([]node, len(t))}
		static := true
		for i, x := range t {
			an.vals[i] = c.node(config.Index(path, i), x)
			_, isConst := an.vals[i].(constNode)
			static = static && isConst
		}
		if static {
			return constNode{v: t}
		}
		return an
	default:
		return constNode{v: v}
	}
}

// arg resolves a placeholder to what the sensor evaluates.
func (c *compiler) arg(ph placeholder) arg {
	a := arg{kind: ph.kind, def: ph.def, hasDef: ph.hasDef}
	switch ph.kind {
	case argVar:
		a.idx = c.varIdx[ph.name]
	case argRef:
		ri, ok := c.refIdx[ph.ref]
		if !ok {
			ri = len(c.e.refs)
			c.refIdx[ph.ref] = ri
			c.e.refs = append(c.e.refs, &ref{key: ph.ref})
			c.e.byDoc[ph.ref.doc] = append(c.e.byDoc[ph.ref.doc], ri)
		}
		a.idx = ri
		found := false
		for _, x := range c.sen.refs {
			found = found || x == ri
		}
		if !found {
			c.sen.refs = append(c.sen.refs, ri)
		}
	}
	return a
}

// Observe feeds the pipeline's updates to the engine and returns the
// outputs of the event-driven sensors they trigger (nil when none). now is
// the arrival time used to judge freshness against each sensor's window.
func (e *Engine) Observe(updates []model.Update, now time.Time) []model.Update {
	e.mu.Lock()
	defer e.mu.Unlock()
	hit := false
	for i := range updates {
		hit = e.feed(&updates[i], now) || hit
	}
	if !hit {
		return nil
	}
	return e.runTriggered(nil, now)
}

// Poll computes the poll-mode sensors whose window has elapsed since their
// last computation (all of them on the first call) and returns their
// outputs, followed by those of event-driven sensors they trigger. The
// caller ticks it, e.g. every second.
func (e *Engine) Poll(now time.Time) []model.Update {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []model.Update
	for _, s := range e.sensors {
		if !s.poll || (!s.lastPoll.IsZero() && now.Sub(s.lastPoll) < s.window) {
			continue
		}
		s.lastPoll = now
		u, err := e.compute(s, now, true)
		if err != nil {
			continue
		}
		out = append(out, u)
	}
	n := len(out)
	hit := false
	for i := 0; i < n; i++ {
		hit = e.feed(&out[i], now) || hit
	}
	if hit {
		out = e.runTriggered(out, now)
	}
	return out
}

// PollDue tells when Poll next has something to do (zero when there is no
// poll-mode sensor), for callers that prefer a timer to a ticker.
func (e *Engine) PollDue() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var due time.Time
	for _, s := range e.sensors {
		if !s.poll {
			continue
		}
		d := s.lastPoll.Add(s.window)
		if due.IsZero() || d.Before(due) {
			due = d
		}
	}
	return due
}

// Stats returns the counters of every sensor, keyed "<collection>.<id>"
// (e.g. "gridflex_loads.LOAD01").
func (e *Engine) Stats() map[string]SensorStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]SensorStats, len(e.sensors))
	for _, s := range e.sensors {
		m[s.name] = s.stats
	}
	return m
}

// runTriggered computes, in definition order, the event-driven sensors
// marked by feed, feeding each output back so that later sensors may use
// it, and appends the outputs to out.
func (e *Engine) runTriggered(out []model.Update, now time.Time) []model.Update {
	for si, s := range e.sensors {
		if !e.trig[si] {
			continue
		}
		ts := e.trigTS[si]
		e.trig[si], e.trigTS[si] = false, time.Time{}
		if s.poll {
			continue
		}
		fresh := true
		for _, ri := range s.refs {
			r := e.refs[ri]
			if !r.have || now.Sub(r.seen) > s.window {
				fresh = false
				break
			}
		}
		if !fresh {
			s.stats.Stale++
			continue
		}
		u, err := e.compute(s, ts, false)
		if err != nil {
			continue
		}
		out = append(out, u)
		e.feed(&out[len(out)-1], now)
	}
	clear(e.trig)
	clear(e.trigTS)
	return out
}

// feed records the referenced properties u sets and marks the sensors
// using them; it reports whether any was.
func (e *Engine) feed(u *model.Update, now time.Time) bool {
	idx := e.byDoc[docKey{layer: u.Layer, collection: u.Collection, id: u.ID}]
	if len(idx) == 0 {
		return false
	}
	ts := u.TS
	if ts.IsZero() {
		ts = now
	}
	hit := false
	for _, ri := range idx {
		r := e.refs[ri]
		touched := false
		for k, v := range u.Set {
			route := r.key.route
			switch {
			case k == route:
				r.value, r.have = cloneValue(v), true
			case len(route) > len(k) && route[len(k)] == '.' && strings.HasPrefix(route, k):
				r.value, r.have = descend(v, route[len(k)+1:])
			case len(k) > len(route) && k[len(route)] == '.' && strings.HasPrefix(k, route):
				base, _ := r.value.(map[string]any)
				r.value, r.have = setIn(base, k[len(route)+1:], v), true
			default:
				continue
			}
			touched = true
		}
		if !touched {
			continue
		}
		hit = true
		r.seen = now
		for _, si := range r.sensors {
			e.trig[si] = true
			if ts.After(e.trigTS[si]) {
				e.trigTS[si] = ts
			}
		}
	}
	return hit
}

// compute evaluates s; poll allows defaults for unknown properties.
func (e *Engine) compute(s *sensor, ts time.Time, poll bool) (model.Update, error) {
	// the engine's context, reused: compute runs under e.mu and outputs
	// never reference the context itself
	c := &e.ctx
	*c = evalCtx{e: e, ts: ts.UTC(), poll: poll, vars: append(c.vars[:0], make([]any, len(s.vars))...)}
	defer clear(c.vars) // do not keep the values alive
	fail := func(err error) (model.Update, error) {
		if errors.Is(err, ErrMissing) {
			s.stats.Missing++
		} else {
			s.stats.Errors++
			s.stats.LastError = err.Error()
		}
		return model.Update{}, err
	}
	for i, v := range s.vars {
		x, err := v.eval(c)
		if err != nil {
			return fail(fmt.Errorf("virtual sensor %s: var: %w", s.name, err))
		}
		c.vars[i] = x
	}
	set := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		x, err := f.node.eval(c)
		if err != nil {
			return fail(fmt.Errorf("virtual sensor %s: %s: %w", s.name, f.key, err))
		}
		set[f.key] = x
	}
	s.stats.Outputs++
	return model.Update{Layer: s.doc.layer, Collection: s.doc.collection, ID: s.doc.id, Set: set, TS: c.ts}, nil
}

// evalCtx is what nodes evaluate against.
type evalCtx struct {
	e    *Engine
	ts   time.Time
	poll bool
	vars []any
	// tsBoxed is ts as an interface value, boxed once per computation
	// rather than once per {timestamp}.
	tsBoxed any
}

// arg is a compiled placeholder.
type arg struct {
	kind   argKind
	idx    int // var index or ref index
	def    any
	hasDef bool
}

func (c *evalCtx) value(a *arg) (any, error) {
	switch a.kind {
	case argTimestamp:
		if c.tsBoxed == nil {
			c.tsBoxed = c.ts
		}
		return c.tsBoxed, nil
	case argVar:
		return c.vars[a.idx], nil
	default:
		r := c.e.refs[a.idx]
		if r.have {
			return r.value, nil
		}
		if c.poll && a.hasDef {
			return a.def, nil
		}
		return nil, fmt.Errorf("%w: {%s_%s.%s>%s}", ErrMissing, r.key.doc.layer, r.key.doc.collection, r.key.doc.id, r.key.route)
	}
}

// node is a compiled template value.
type node interface {
	eval(c *evalCtx) (any, error)
}

// constNode is a value without placeholders.
type constNode struct{ v any }

func (n constNode) eval(*evalCtx) (any, error) { return cloneValue(n.v), nil }

// objectNode is an object with placeholders somewhere inside.
type objectNode struct {
	keys []string
	vals []node
}

func (n *objectNode) eval(c *evalCtx) (any, error) {
	m := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		v, err := n.vals[i].eval(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

// arrayNode is an array with placeholders somewhere inside.
type arrayNode struct{ vals []node }

func (n *arrayNode) eval(c *evalCtx) (any, error) {
	out := make([]any, len(n.vals))
	for i, x := range n.vals {
		v, err := x.eval(c)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// strNode is a string with placeholders: one placeholder's value, or an
// expression.
type strNode struct {
	whole bool
	args  []arg
	names []string
	prog  *expression.Program
	// varArgs maps each of prog.Vars() to its index in args (-1: not a
	// placeholder), for EvalVars; nil when prog needs a map context.
	varArgs []int
}

func (n *strNode) eval(c *evalCtx) (any, error) {
	if n.whole {
		v, err := c.value(&n.args[0])
		return cloneValue(v), err
	}
	if n.varArgs == nil {
		env := make(map[string]any, len(n.args))
		for i := range n.args {
			v, err := c.value(&n.args[i])
			if err != nil {
				return nil, err
			}
			env[n.names[i]] = v
		}
		return n.prog.Eval(env)
	}
	// no map per evaluation: the values by placeholder (in order, so that
	// the first missing one is reported), then by variable
	var abuf, vbuf [8]any
	args := abuf[:0]
	for i := range n.args {
		v, err := c.value(&n.args[i])
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	vals := vbuf[:0]
	for _, ai := range n.varArgs {
		if ai < 0 {
			vals = append(vals, expression.Undefined)
		} else {
			vals = append(vals, args[ai])
		}
	}
	return n.prog.EvalVars(vals)
}

// descend reads the dotted path inside v: objects, measurements and
// arrays (by index).
func descend(v any, path string) (any, bool) {
	for path != "" {
		seg, rest, _ := strings.Cut(path, ".")
		path = rest
		switch t := v.(type) {
		case map[string]any:
			x, ok := t[seg]
			if !ok {
				return nil, false
			}
			v = x
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			// a Measurement or *Measurement (a map one is walked above)
			m, ok := model.MeasurementOf(v)
			if !ok {
				return nil, false
			}
			v = measurementField(&m, seg)
		}
		if v == nil && path != "" {
			return nil, false
		}
	}
	return cloneValue(v), true
}

func measurementField(m *model.Measurement, name string) any {
	switch name {
	case "value":
		return m.Value
	case "quality":
		return float64(m.Quality)
	case "timestamp":
		return m.Timestamp
	}
	return nil
}

// setIn returns a copy of base with the dotted path set to v.
func setIn(base map[string]any, path string, v any) map[string]any {
	out := make(map[string]any, len(base)+1)
	for k, x := range base {
		out[k] = x
	}
	seg, rest, nested := strings.Cut(path, ".")
	if !nested {
		out[seg] = cloneValue(v)
		return out
	}
	child, _ := out[seg].(map[string]any)
	out[seg] = setIn(child, rest, v)
	return out
}

// cloneValue deep-copies maps and slices, so that outputs never alias
// inputs or the configuration.
func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneValue(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = cloneValue(x)
		}
		return s
	default:
		return v
	}
}
