package baddata

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/model"
)

// Detector types.
const (
	DetectRange      = "range"
	DetectRate       = "rate"
	DetectFlatline   = "flatline"
	DetectStale      = "stale"
	DetectNaN        = "nan"
	DetectTimestamp  = "timestamp"
	DetectDuplicate  = "duplicate"
	DetectExpression = "expression"
)

// Action types.
const (
	ActionDiscard  = "discard"
	ActionReplace  = "replace"
	ActionFlag     = "flag"
	ActionIncident = "incident"
)

// Replacement kinds of the replace action.
const (
	ReplaceConstant    = "constant"
	ReplaceLast        = "last"
	ReplaceHold        = "hold"
	ReplaceInterpolate = "interpolate"
)

// Defaults.
const (
	// DefaultIncidentType is the type of incidents whose action names none.
	DefaultIncidentType = "BAD_DATA"
	// DefaultMaxPending bounds the readings withheld for interpolation per field.
	DefaultMaxPending = 100
	// DefaultMaxGap is how long withheld readings wait for a good one.
	DefaultMaxGap = time.Hour
	// IncidentLayer and IncidentCollection are where incidents go (seed 3.2.4).
	IncidentLayer      = "incidents"
	IncidentCollection = "items"
)

// Rule is one bad-data rule.
type Rule struct {
	// ID names the rule in stats, incidents and errors; unique.
	ID string `json:"id"`
	// Description says what the rule is for.
	Description string `json:"description,omitempty"`
	// Disabled keeps the rule in the config without running it.
	Disabled bool `json:"disabled,omitempty"`
	// Match selects the measurements the rule assesses (empty: all).
	Match Match `json:"match,omitempty"`
	// Detect says what bad data is.
	Detect Detect `json:"detect"`
	// Actions say what to do with it; at least one.
	Actions []Action `json:"actions"`
}

// Match selects measurements. Every list holds path.Match globs; an empty
// list matches everything.
type Match struct {
	// Collections are "<layer>_<collection>" names, e.g. "gridflex_meters".
	Collections []string `json:"collections,omitempty"`
	// Documents are document ids: the sources (at the edge, a slave writes
	// the document its SETTINGS entry names).
	Documents []string `json:"documents,omitempty"`
	// Fields are measurement names (without "measurements."), e.g. "voltage*".
	Fields []string `json:"fields,omitempty"`
}

// Detect configures the detector; which fields apply depends on Type.
type Detect struct {
	// Type is range, rate, flatline, stale, nan, timestamp, duplicate or expression.
	Type string `json:"type"`
	// Min is the lowest good value (range).
	Min *float64 `json:"min,omitempty"`
	// Max is the highest good value (range).
	Max *float64 `json:"max,omitempty"`
	// MinField names a document field (e.g. a static attribute holding a
	// nominal value) whose value, times MinFactor, is the lowest good value
	// (range); it overrides Min when known.
	MinField string `json:"minField,omitempty"`
	// MaxField is MinField's counterpart for the highest good value (range).
	MaxField string `json:"maxField,omitempty"`
	// MinFactor multiplies MinField's value (range; default 1).
	MinFactor *float64 `json:"minFactor,omitempty"`
	// MaxFactor multiplies MaxField's value (range; default 1).
	MaxFactor *float64 `json:"maxFactor,omitempty"`
	// MaxDelta is the largest good change between readings (rate).
	MaxDelta *float64 `json:"maxDelta,omitempty"`
	// MaxRate is the largest good change per second (rate).
	MaxRate *float64 `json:"maxRate,omitempty"`
	// Count is the number of readings without change that is a flatline (flatline).
	Count int `json:"count,omitempty"`
	// Duration without change that is a flatline (flatline).
	Duration config.Duration `json:"duration,omitempty"`
	// Tolerance is the change still counted as no change (flatline; default 0).
	Tolerance float64 `json:"tolerance,omitempty"`
	// After is the silence that makes a field stale (stale).
	After config.Duration `json:"after,omitempty"`
	// MaxFuture is how far ahead of now a timestamp may be (timestamp; 0: not checked).
	MaxFuture config.Duration `json:"maxFuture,omitempty"`
	// MaxPast is how far behind now a timestamp may be (timestamp; 0: not checked).
	MaxPast config.Duration `json:"maxPast,omitempty"`
	// OutOfOrder also treats timestamps older than the previous one as
	// duplicates (duplicate).
	OutOfOrder bool `json:"outOfOrder,omitempty"`
	// Condition is an expression that is truthy for bad data (expression).
	Condition string `json:"condition,omitempty"`
}

// Action is one thing to do with bad data.
type Action struct {
	// Type is discard, replace, flag or incident.
	Type string `json:"type"`
	// With is the replacement (replace): constant, last, hold or interpolate.
	With string `json:"with,omitempty"`
	// Value is the constant replacement (replace with constant), or the
	// fallback of last and hold when there is no last value.
	Value any `json:"value,omitempty"`
	// MaxPending bounds the readings withheld per field (replace with
	// interpolate; default 100); beyond it the oldest are dropped.
	MaxPending int `json:"maxPending,omitempty"`
	// MaxGap is how long withheld readings wait for a good one (replace with
	// interpolate; default 1h); Tick drops older ones.
	MaxGap config.Duration `json:"maxGap,omitempty"`
	// Quality is the quality code set (flag; default 2, suspect).
	Quality *int `json:"quality,omitempty"`
	// IncidentType is the incident's type, which the incidents layer maps
	// to a workflow (incident; default "BAD_DATA").
	IncidentType string `json:"incidentType,omitempty"`
	// Description is the incident's description (incident; default: generated).
	Description string `json:"description,omitempty"`
	// Cooldown is the least time between two incidents of the rule for the
	// same field (incident; default 0: every detection).
	Cooldown config.Duration `json:"cooldown,omitempty"`
}

// detector is Detect.Type as a number, so that assessing a reading
// switches on an integer rather than compares strings.
type detector uint8

const (
	detOther detector = iota
	detRange
	detRate
	detFlatline
	detStale
	detNaN
	detTimestamp
	detDuplicate
	detExpression
)

var detectors = map[string]detector{
	DetectRange: detRange, DetectRate: detRate, DetectFlatline: detFlatline, DetectStale: detStale,
	DetectNaN: detNaN, DetectTimestamp: detTimestamp, DetectDuplicate: detDuplicate, DetectExpression: detExpression,
}

// compiled rule
type rule struct {
	kind     detector // det.Type
	id       string
	src      *Rule
	match    Match
	det      Detect
	minF     float64
	maxF     float64
	cond     *expression.Program
	condVars []condVar // what each of cond.Vars() is
	discard  bool
	replace  string // "" or a Replace* kind
	value    any
	hasValue bool
	maxPend  int
	maxGap   time.Duration
	flag     int // quality, -1: no flag
	incident *Action
	cooldown time.Duration
	stats    *RuleStats // set by Reload
}

// condVar is a variable of an expression condition's context.
type condVar uint8

const (
	cvValue condVar = iota + 1
	cvQuality
	cvTimestamp
	cvPrevious
	cvPreviousTimestamp
	cvDt
	cvLastGood
	cvField
	cvDocument
	cvCollection
)

// maxCondVars is the number of condition variables.
const maxCondVars = 10

// conditionVars are the variables an expression condition may use.
var conditionVars = map[string]condVar{
	"value": cvValue, "quality": cvQuality, "timestamp": cvTimestamp, "previous": cvPrevious, "previousTimestamp": cvPreviousTimestamp,
	"dt": cvDt, "lastGood": cvLastGood, "field": cvField, "document": cvDocument, "collection": cvCollection,
}

// which Detect fields apply to which detector
var detectFields = map[string][]string{
	DetectRange:      {"min", "max", "minField", "maxField", "minFactor", "maxFactor"},
	DetectRate:       {"maxDelta", "maxRate"},
	DetectFlatline:   {"count", "duration", "tolerance"},
	DetectStale:      {"after"},
	DetectNaN:        {},
	DetectTimestamp:  {"maxFuture", "maxPast"},
	DetectDuplicate:  {"outOfOrder"},
	DetectExpression: {"condition"},
}

// setFields lists the Detect fields that are set.
func (d *Detect) setFields() []string {
	var s []string
	add := func(name string, set bool) {
		if set {
			s = append(s, name)
		}
	}
	add("min", d.Min != nil)
	add("max", d.Max != nil)
	add("minField", d.MinField != "")
	add("maxField", d.MaxField != "")
	add("minFactor", d.MinFactor != nil)
	add("maxFactor", d.MaxFactor != nil)
	add("maxDelta", d.MaxDelta != nil)
	add("maxRate", d.MaxRate != nil)
	add("count", d.Count != 0)
	add("duration", d.Duration != 0)
	add("tolerance", d.Tolerance != 0)
	add("after", d.After != 0)
	add("maxFuture", d.MaxFuture != 0)
	add("maxPast", d.MaxPast != 0)
	add("outOfOrder", d.OutOfOrder)
	add("condition", d.Condition != "")
	return s
}

// Validate reports every problem of rules, with paths such as
// "rules[2] (id spike): detect.maxDelta: is negative".
func Validate(rules []Rule) error {
	_, es := compile(rules, "rules")
	return es.Err()
}

// compile compiles the enabled rules, collecting every problem of all rules.
func compile(rules []Rule, base string) ([]*rule, config.Errors) {
	var es config.Errors
	var out []*rule
	ids := map[string]int{}
	for i := range rules {
		r := &rules[i]
		p := config.Index(base, i)
		if r.ID != "" {
			p += " (id " + r.ID + ")"
		}
		if r.ID == "" {
			es.Add(config.Join(p, "id"), "is empty")
		} else if j, dup := ids[r.ID]; dup {
			es.Add(config.Join(p, "id"), "%q is also the id of %s", r.ID, config.Index(base, j))
		} else {
			ids[r.ID] = i
		}
		c := compileRule(&es, p, r)
		if c != nil && !r.Disabled {
			out = append(out, c)
		}
	}
	return out, es
}

func compileRule(es *config.Errors, p string, r *Rule) *rule {
	n := len(*es)
	c := &rule{kind: detectors[r.Detect.Type], id: r.ID, src: r, match: r.Match, det: r.Detect, minF: 1, maxF: 1, flag: -1}
	for field, list := range map[string][]string{"collections": r.Match.Collections, "documents": r.Match.Documents, "fields": r.Match.Fields} {
		for j, g := range list {
			if _, err := path.Match(g, ""); err != nil {
				es.Add(config.Index(config.Join(config.Join(p, "match"), field), j), "bad pattern %q: %v", g, err)
			}
		}
	}
	d := &r.Detect
	dp := config.Join(p, "detect")
	allowed, ok := detectFields[d.Type]
	if !ok {
		names := make([]string, 0, len(detectFields))
		for k := range detectFields {
			names = append(names, k)
		}
		sort.Strings(names)
		es.Add(config.Join(dp, "type"), "unknown detector %q (known: %s)", d.Type, strings.Join(names, ", "))
	} else {
		for _, f := range d.setFields() {
			if !contains(allowed, f) {
				es.Add(config.Join(dp, f), "does not apply to detector %q", d.Type)
			}
		}
	}
	if d.MinFactor != nil {
		c.minF = *d.MinFactor
	}
	if d.MaxFactor != nil {
		c.maxF = *d.MaxFactor
	}
	switch d.Type {
	case DetectRange:
		if d.Min == nil && d.Max == nil && d.MinField == "" && d.MaxField == "" {
			es.Add(dp, "range needs min, max, minField or maxField")
		}
		if d.Min != nil && d.Max != nil && *d.Min > *d.Max {
			es.Add(config.Join(dp, "min"), "min (%v) is above max (%v)", *d.Min, *d.Max)
		}
		if d.MinFactor != nil && d.MinField == "" {
			es.Add(config.Join(dp, "minFactor"), "needs minField")
		}
		if d.MaxFactor != nil && d.MaxField == "" {
			es.Add(config.Join(dp, "maxFactor"), "needs maxField")
		}
	case DetectRate:
		if d.MaxDelta == nil && d.MaxRate == nil {
			es.Add(dp, "rate needs maxDelta or maxRate")
		}
		if d.MaxDelta != nil && *d.MaxDelta < 0 {
			es.Add(config.Join(dp, "maxDelta"), "is negative")
		}
		if d.MaxRate != nil && *d.MaxRate < 0 {
			es.Add(config.Join(dp, "maxRate"), "is negative")
		}
	case DetectFlatline:
		if d.Count < 2 && d.Duration == 0 {
			es.Add(dp, "flatline needs count (at least 2) or duration")
		}
		if d.Count < 0 || d.Count == 1 {
			es.Add(config.Join(dp, "count"), "must be at least 2")
		}
		if d.Tolerance < 0 {
			es.Add(config.Join(dp, "tolerance"), "is negative")
		}
	case DetectStale:
		if d.After <= 0 {
			es.Add(config.Join(dp, "after"), "is required")
		}
	case DetectTimestamp:
		if d.MaxFuture == 0 && d.MaxPast == 0 {
			es.Add(dp, "timestamp needs maxFuture or maxPast")
		}
	case DetectExpression:
		if strings.TrimSpace(d.Condition) == "" {
			es.Add(config.Join(dp, "condition"), "is required")
			break
		}
		prog, err := expression.Compile(d.Condition, expression.Options{})
		if err != nil {
			es.Add(config.Join(dp, "condition"), "%v", err)
			break
		}
		for _, v := range prog.Vars() {
			cv, ok := conditionVars[v]
			c.condVars = append(c.condVars, cv)
			if !ok {
				es.Add(config.Join(dp, "condition"), "uses unknown variable %q (known: dt, collection, document, field, lastGood, previous, previousTimestamp, quality, timestamp, value)", v)
			}
		}
		c.cond = prog
	}
	compileActions(es, p, r, c)
	if len(*es) > n {
		return nil
	}
	return c
}

func compileActions(es *config.Errors, p string, r *Rule, c *rule) {
	ap := config.Join(p, "actions")
	if len(r.Actions) == 0 {
		es.Add(ap, "needs at least one action")
	}
	stale := r.Detect.Type == DetectStale
	valueActions := 0
	for i := range r.Actions {
		a := &r.Actions[i]
		p := config.Index(ap, i)
		misplaced := func(field string, set bool, owner string) {
			if set {
				es.Add(config.Join(p, field), "applies to %s only", owner)
			}
		}
		misplaced("with", a.With != "" && a.Type != ActionReplace, "replace")
		misplaced("value", a.Value != nil && a.Type != ActionReplace, "replace")
		misplaced("maxPending", a.MaxPending != 0 && a.With != ReplaceInterpolate, "replace with interpolate")
		misplaced("maxGap", a.MaxGap != 0 && a.With != ReplaceInterpolate, "replace with interpolate")
		misplaced("quality", a.Quality != nil && a.Type != ActionFlag, "flag")
		misplaced("incidentType", a.IncidentType != "" && a.Type != ActionIncident, "incident")
		misplaced("description", a.Description != "" && a.Type != ActionIncident, "incident")
		misplaced("cooldown", a.Cooldown != 0 && a.Type != ActionIncident, "incident")
		switch a.Type {
		case ActionDiscard:
			valueActions++
			c.discard = true
			if stale {
				es.Add(config.Join(p, "type"), "discard does not apply to stale (there is no reading to discard)")
			}
		case ActionReplace:
			valueActions++
			switch a.With {
			case ReplaceConstant:
				if a.Value == nil {
					es.Add(config.Join(p, "value"), "is required with \"constant\"")
				}
			case ReplaceLast, ReplaceHold:
			case ReplaceInterpolate:
				if stale {
					es.Add(config.Join(p, "with"), "interpolate does not apply to stale")
				}
				if a.MaxPending < 0 {
					es.Add(config.Join(p, "maxPending"), "is negative")
				}
			default:
				es.Add(config.Join(p, "with"), "want constant, last, hold or interpolate, got %q", a.With)
			}
			c.replace = a.With
			c.value, c.hasValue = a.Value, a.Value != nil
			c.maxPend = a.MaxPending
			if c.maxPend == 0 {
				c.maxPend = DefaultMaxPending
			}
			c.maxGap = a.MaxGap.Or(DefaultMaxGap)
		case ActionFlag:
			valueActions++
			c.flag = model.QualitySuspect
			if a.Quality != nil {
				c.flag = *a.Quality
			}
		case ActionIncident:
			if c.incident != nil {
				es.Add(config.Join(p, "type"), "a rule raises at most one incident")
			}
			c.incident = a
			c.cooldown = a.Cooldown.Std()
		default:
			es.Add(config.Join(p, "type"), "want discard, replace, flag or incident, got %q", a.Type)
		}
	}
	if valueActions > 1 {
		es.Add(ap, "discard, replace and flag exclude each other")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// matches tells whether the rule applies to a measurement.
func (r *rule) matches(k *fieldKey) bool {
	return matchList(r.match.Fields, k.field) && matchList(r.match.Documents, k.id) &&
		matchCollection(r.match.Collections, k.layer, k.collection)
}

func matchList(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

func matchCollection(globs []string, layer, collection string) bool {
	if len(globs) == 0 {
		return true
	}
	return matchList(globs, layer+"_"+collection)
}

// String describes the rule for errors and logs.
func (r *rule) String() string { return fmt.Sprintf("rule %s (%s)", r.id, r.det.Type) }
