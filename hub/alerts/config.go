package alerts

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
)

// Defaults of Config.
const (
	// DefaultTick is how often time-dependent rules are evaluated and the
	// lease is renewed.
	DefaultTick = 5 * time.Second
	// DefaultLease is how long the lease lasts without renewal.
	DefaultLease = 15 * time.Second
	// DefaultType is the incident type of a rule that names none.
	DefaultType = "ALERT"
	// MaxWindow bounds a window (memory: one reading per change in it).
	MaxWindow = 7 * 24 * time.Hour
)

// Aggregations of a variable.
const (
	AggLast  = "last"
	AggAvg   = "avg"
	AggMin   = "min"
	AggMax   = "max"
	AggSum   = "sum"
	AggCount = "count"
	AggDelta = "delta"
	AggRate  = "rate"
	AggAge   = "age"
)

var aggs = []string{AggLast, AggAvg, AggMin, AggMax, AggSum, AggCount, AggDelta, AggRate, AggAge}

// Config is the alerts section of the hub's services config.
type Config struct {
	// Enabled starts the service (default false).
	Enabled bool `json:"enabled,omitempty"`
	// Layer and Collection receive the incidents (default incidents/items,
	// where hub/incidents watches).
	Layer string `json:"layer,omitempty"`
	// Collection: see Layer.
	Collection string `json:"collection,omitempty"`
	// Tick is how often rules with windows or ages are evaluated and the
	// lease renewed (default 5s).
	Tick config.Duration `json:"tick,omitempty"`
	// Lease is how soon another hub takes the rules over when this one
	// stops renewing (default 15s; longer than tick).
	Lease config.Duration `json:"lease,omitempty"`
	// Rules are the alert rules.
	Rules []Rule `json:"rules,omitempty"`
	// BadData are the edge's bad-data rules, run at the hub on the
	// measurements written to the store; at the hub their only action is
	// incident (the data is stored already).
	BadData []baddata.Rule `json:"badData,omitempty"`
}

// Rule is one alert rule.
type Rule struct {
	// ID names the rule in its incidents (details.rule); unique.
	ID string `json:"id"`
	// Type is the incident type, which the incidents layer maps to a
	// workflow (default "ALERT").
	Type string `json:"type,omitempty"`
	// Description is the incident's description; {rule}, {condition} and
	// {<var>} are replaced (default: generated).
	Description string `json:"description,omitempty"`
	// Vars are the inputs, by name.
	Vars map[string]Var `json:"vars,omitempty"`
	// Condition is an expression over Vars and {layer_collection.ID>path}
	// references; truthy means firing.
	Condition string `json:"condition"`
	// Cooldown is the least time between two incidents of the rule
	// (default 0).
	Cooldown config.Duration `json:"cooldown,omitempty"`
	// Disabled keeps the rule in the config without evaluating it.
	Disabled bool `json:"disabled,omitempty"`
}

// Var is one input of a rule.
type Var struct {
	// Ref is "<layer>_<collection>.<id>><path>", e.g.
	// "gridflex_meters.M1>measurements.voltage"; a measurement's value is
	// taken from its object.
	Ref string `json:"ref"`
	// Agg is last (default), avg, min, max, sum, count, delta, rate or age.
	Agg string `json:"agg,omitempty"`
	// Window is the sliding window of avg, min, max, sum, count, delta and
	// rate (required for them).
	Window config.Duration `json:"window,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Layer == "" {
		c.Layer = baddata.IncidentLayer
	}
	if c.Collection == "" {
		c.Collection = baddata.IncidentCollection
	}
	if c.Tick == 0 {
		c.Tick = config.Duration(DefaultTick)
	}
	if c.Lease == 0 {
		c.Lease = config.Duration(DefaultLease)
	}
}

// Validate adds the problems of c to es, under path: every rule is compiled.
func (c *Config) Validate(p string, es *config.Errors) {
	if !c.Enabled {
		return
	}
	if c.Tick.Std() <= 0 {
		es.Add(config.Join(p, "tick"), "must be positive")
	}
	if c.Lease.Std() <= c.Tick.Std() {
		es.Add(config.Join(p, "lease"), "(%v) must be longer than tick (%v)", c.Lease.Std(), c.Tick.Std())
	}
	_, _ = compileRules(c.Rules, config.Join(p, "rules"), es)
	validateBadData(c.BadData, config.Join(p, "badData"), es)
}

// validateBadData checks the bad-data rules and keeps them to incidents.
func validateBadData(rules []baddata.Rule, p string, es *config.Errors) {
	if len(rules) == 0 {
		return
	}
	if err := baddata.Validate(rules); err != nil {
		es.Add(p, "%v", err)
	}
	for i, r := range rules {
		for j, a := range r.Actions {
			if a.Type != baddata.ActionIncident {
				es.Add(config.Index(config.Join(config.Index(p, i), "actions"), j),
					"%q: at the hub a bad-data rule only raises incidents (discard, replace and flag belong to the edge, before the data is stored)", a.Type)
			}
		}
	}
}

// ref is a parsed reference.
type ref struct {
	layer, collection, id, path string
}

// field is the history field of the reference: its path without a
// trailing ".value".
func (r ref) field() string { return strings.TrimSuffix(r.path, ".value") }

func (r ref) String() string { return r.layer + "_" + r.collection + "." + r.id + ">" + r.path }

// parseRef reads "<layer>_<collection>.<id>><path>".
func parseRef(s string) (ref, error) {
	doc, path, ok := strings.Cut(s, ">")
	if !ok || path == "" {
		return ref{}, fmt.Errorf("reference %q is not <layer>_<collection>.<id>><path>", s)
	}
	coll, id, ok := strings.Cut(doc, ".")
	if !ok || id == "" {
		return ref{}, fmt.Errorf("reference %q has no document id (<layer>_<collection>.<id>)", s)
	}
	layer, col, ok := strings.Cut(coll, "_")
	if !ok || layer == "" || col == "" {
		return ref{}, fmt.Errorf("reference %q: %q is not <layer>_<collection>", s, coll)
	}
	return ref{layer: strings.TrimSpace(layer), collection: col, id: id, path: strings.TrimSpace(path)}, nil
}

// inlineRef finds {layer_collection.ID>path} in a condition.
var inlineRef = regexp.MustCompile(`\{([^{}>]+>[^{}]+)\}`)

// input is a compiled variable.
type input struct {
	name   string
	ref    ref
	agg    string
	window time.Duration
}

// rule is a compiled rule.
type rule struct {
	Rule
	prog   *expression.Program
	inputs []input
	// timed: the rule has windows or ages, so it is evaluated every tick.
	timed bool
}

// compileRules compiles the rules that are not disabled, adding problems to es.
func compileRules(rules []Rule, p string, es *config.Errors) ([]*rule, bool) {
	var out []*rule
	seen := map[string]bool{}
	ok := true
	for i, r := range rules {
		rp := config.Index(p, i)
		n := len(*es)
		if r.ID == "" {
			es.Add(config.Join(rp, "id"), "is required")
		} else if seen[r.ID] {
			es.Add(config.Join(rp, "id"), "rule %q is listed twice", r.ID)
		}
		seen[r.ID] = true
		c := compileRule(r, rp, es)
		if len(*es) > n {
			ok = false
			continue
		}
		if !r.Disabled {
			out = append(out, c)
		}
	}
	return out, ok
}

func compileRule(r Rule, p string, es *config.Errors) *rule {
	c := &rule{Rule: r}
	if c.Type == "" {
		c.Type = DefaultType
	}
	names := make([]string, 0, len(r.Vars))
	for name := range r.Vars {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := r.Vars[name]
		vp := config.Join(config.Join(p, "vars"), name)
		if strings.HasPrefix(name, "$") || !identifier.MatchString(name) {
			es.Add(vp, "%q is not a variable name (letters, digits, _)", name)
			continue
		}
		in, err := compileVar(name, v)
		if err != nil {
			es.Add(vp, "%v", err)
			continue
		}
		c.inputs = append(c.inputs, in)
	}
	if strings.TrimSpace(r.Condition) == "" {
		es.Add(config.Join(p, "condition"), "is required")
		return c
	}
	// inline references become variables $0, $1, … (their latest values)
	src := inlineRef.ReplaceAllStringFunc(r.Condition, func(m string) string {
		rf, err := parseRef(m[1 : len(m)-1])
		if err != nil {
			es.Add(config.Join(p, "condition"), "%v", err)
			return m
		}
		name := fmt.Sprintf("$%d", len(c.inputs))
		c.inputs = append(c.inputs, input{name: name, ref: rf, agg: AggLast})
		return name
	})
	prog, err := expression.Compile(src, expression.Options{})
	if err != nil {
		es.Add(config.Join(p, "condition"), "%v", err)
		return c
	}
	known := map[string]bool{}
	for _, in := range c.inputs {
		known[in.name] = true
		c.timed = c.timed || in.window > 0 || in.agg == AggAge
	}
	for _, v := range prog.Vars() {
		if !known[v] {
			es.Add(config.Join(p, "condition"), "uses %q, which is neither a var of the rule nor a {layer_collection.id>path} reference (vars: %s)",
				v, strings.Join(names, ", "))
		}
	}
	if len(c.inputs) == 0 {
		es.Add(config.Join(p, "condition"), "reads no input")
	}
	if r.Cooldown.Std() < 0 {
		es.Add(config.Join(p, "cooldown"), "is negative")
	}
	c.prog = prog
	return c
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func compileVar(name string, v Var) (input, error) {
	rf, err := parseRef(v.Ref)
	if err != nil {
		return input{}, err
	}
	agg := v.Agg
	if agg == "" {
		agg = AggLast
	}
	if !slices.Contains(aggs, agg) {
		return input{}, fmt.Errorf("agg %q is not one of %s", agg, strings.Join(aggs, ", "))
	}
	w := v.Window.Std()
	switch agg {
	case AggLast, AggAge:
		if w != 0 {
			return input{}, fmt.Errorf("agg %s takes no window", agg)
		}
	default:
		if w <= 0 {
			return input{}, fmt.Errorf("agg %s needs a window (e.g. \"5m\")", agg)
		}
		if w > MaxWindow {
			return input{}, fmt.Errorf("window %v is longer than %v", w, MaxWindow)
		}
	}
	return input{name: name, ref: rf, agg: agg, window: w}, nil
}
