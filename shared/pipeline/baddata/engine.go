package baddata

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridedge/gridedge/shared/expression"
	"github.com/gridedge/gridedge/shared/model"
)

// Options tune an Engine.
type Options struct {
	// Field returns the value of a field of a document the engine has not
	// seen in an update, for range limits given by minField/maxField (e.g.
	// nominal values from the agent's configuration). Optional.
	Field func(layer, collection, id, field string) (any, bool)
}

// RuleStats counts what one rule did.
type RuleStats struct {
	// Evaluated counts the readings the rule assessed.
	Evaluated uint64 `json:"evaluated"`
	// Detected counts the readings (or silences, for stale) found bad.
	Detected uint64 `json:"detected"`
	// Discarded counts readings removed (including replacements without a value).
	Discarded uint64 `json:"discarded"`
	// Replaced counts readings replaced by a constant, last or held value.
	Replaced uint64 `json:"replaced"`
	// Withheld counts readings held back for interpolation.
	Withheld uint64 `json:"withheld"`
	// Interpolated counts backfilled readings emitted.
	Interpolated uint64 `json:"interpolated"`
	// Expired counts withheld readings dropped (maxGap or maxPending).
	Expired uint64 `json:"expired"`
	// Flagged counts readings whose quality was set.
	Flagged uint64 `json:"flagged"`
	// Incidents counts incidents raised.
	Incidents uint64 `json:"incidents"`
	// Suppressed counts incidents not raised because of the cooldown.
	Suppressed uint64 `json:"suppressed"`
	// Errors counts condition evaluations that failed (the reading is kept).
	Errors uint64 `json:"errors"`
	// LastError is the latest condition error.
	LastError string `json:"lastError,omitempty"`
}

// Engine applies bad-data rules. It is safe for concurrent use; calls are
// serialised.
type Engine struct {
	mu          sync.Mutex
	opts        Options
	rules       []*rule
	gen         uint64
	fields      map[fieldKey]*fieldState
	docFields   map[docKey]map[string]float64
	limitFields []string
	stats       map[string]*RuleStats
	// layouts caches, per document, the fields of its latest update.
	layouts     map[docKey]*layout
	scratchVals []any
	// doc is docFields of the document whose update Process assesses
	// (looked up once per update rather than once per range rule)
	doc map[string]float64
}

// layout is the set of fields of a document's update, with its
// measurements in the order Process assesses them (sorted, so that
// backfills and incidents come out in a stable order) and their states.
// Successive updates of a document (every poll of a device) have the same
// fields: Process then neither sorts nor looks fields up one by one.
type layout struct {
	keys   []string      // measurement keys, sorted, then the other keys
	nMeas  int           // measurement keys in keys
	states []*fieldState // per measurement key
	// doc is the document's docFields once known (never replaced after)
	doc map[string]float64
}

type docKey struct{ layer, collection, id string }

type fieldKey struct{ layer, collection, id, field string }

// fieldState is what the engine knows of one measurement of one document.
type fieldState struct {
	gen   uint64
	rules []*rule          // matching rules, for generation gen
	rs    []ruleFieldState // per matching rule

	hasRaw     bool
	raw        any
	rawTS      time.Time
	hasGood    bool
	good       any
	goodTS     time.Time
	hasEmitted bool
	emitted    any
	lastSeen   time.Time
	pending    []pending
	// staleReported tells whether any rs[i].staleReported may be set
	staleReported bool
}

// ruleFieldState is what one rule keeps for one measurement.
type ruleFieldState struct {
	id            string
	lastBad       bool
	runSet        bool
	runValue      float64
	runCount      int
	runSince      time.Time
	staleReported bool
	lastIncident  time.Time
}

// pending is a reading withheld for interpolation.
type pending struct {
	ts     time.Time
	rule   *rule
	stats  *RuleStats
	maxGap time.Duration
}

// New compiles rules; see Reload for errors.
func New(rules []Rule, opts Options) (*Engine, error) {
	e := &Engine{opts: opts, fields: map[fieldKey]*fieldState{}, docFields: map[docKey]map[string]float64{}, stats: map[string]*RuleStats{},
		layouts: map[docKey]*layout{}}
	if err := e.Reload(rules); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload compiles rules and swaps them in atomically. If any rule is
// invalid (an unknown detector, a condition that does not compile…) it
// returns config.Errors naming each bad rule by index and id, and the
// current rules stay in force. Per-field state and the counters of rule
// ids that remain are kept.
func (e *Engine) Reload(rules []Rule) error {
	compiled, es := compile(rules, "rules")
	if len(es) > 0 {
		return fmt.Errorf("bad-data rules rejected, previous rules kept: %w", es)
	}
	var limits []string
	for _, r := range compiled {
		for _, f := range []string{r.det.MinField, r.det.MaxField} {
			if f != "" && !slices.Contains(limits, f) {
				limits = append(limits, f)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = compiled
	e.gen++
	e.limitFields = limits
	stats := make(map[string]*RuleStats, len(compiled))
	for _, r := range compiled {
		s, ok := e.stats[r.id]
		if !ok {
			s = &RuleStats{}
		}
		stats[r.id] = s
		r.stats = s
	}
	e.stats = stats
	return nil
}

// Stats returns the counters of every loaded rule, by id.
func (e *Engine) Stats() map[string]RuleStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]RuleStats, len(e.stats))
	for id, s := range e.stats {
		m[id] = *s
	}
	return m
}

// state returns the field's state with its matching rules up to date.
func (e *Engine) state(k *fieldKey) *fieldState {
	st, ok := e.fields[*k]
	if !ok {
		st = &fieldState{}
		e.fields[*k] = st
	}
	e.refresh(st, k)
	return st
}

// refresh brings the field's matching rules up to date after a Reload:
// the rules that apply to a field are found once per rule generation, not
// on every reading.
func (e *Engine) refresh(st *fieldState, k *fieldKey) {
	if st.gen != e.gen {
		old := st.rs
		st.rules, st.rs = st.rules[:0], nil
		for _, r := range e.rules {
			if !r.matches(k) {
				continue
			}
			rs := ruleFieldState{id: r.id}
			for _, o := range old {
				if o.id == r.id {
					rs = o
				}
			}
			st.rules = append(st.rules, r)
			st.rs = append(st.rs, rs)
		}
		st.gen = e.gen
	}
}

// layoutOf returns the layout of u and fills vals with the values of its
// measurement keys.
func (e *Engine) layoutOf(u *model.Update, vals []any) (*layout, []any) {
	dk := docKey{u.Layer, u.Collection, u.ID}
	l := e.layouts[dk]
	if l != nil && len(l.keys) == len(u.Set) {
		// the same number of keys, all present: the same keys
		vals = vals[:0]
		same := true
		for i, key := range l.keys {
			v, ok := u.Set[key]
			if !ok {
				same = false
				break
			}
			if i < l.nMeas {
				vals = append(vals, v)
			}
		}
		if same {
			return l, vals
		}
	}
	if l == nil { // else a new layout for the document: reuse the slices
		l = &layout{}
		e.layouts[dk] = l
	}
	l.keys, l.states = l.keys[:0], l.states[:0]
	for key := range u.Set {
		if strings.HasPrefix(key, model.MeasurementsPrefix) {
			l.keys = append(l.keys, key)
		}
	}
	slices.Sort(l.keys)
	l.nMeas = len(l.keys)
	for key := range u.Set {
		if !strings.HasPrefix(key, model.MeasurementsPrefix) {
			l.keys = append(l.keys, key)
		}
	}
	vals = vals[:0]
	for _, key := range l.keys[:l.nMeas] {
		k := fieldKey{u.Layer, u.Collection, u.ID, key[len(model.MeasurementsPrefix):]}
		l.states = append(l.states, e.state(&k))
		vals = append(vals, u.Set[key])
	}
	return l, vals
}

// Process assesses every measurement of updates with the rules and returns
// the updates to buffer: unchanged updates as they are (updates itself is
// returned when nothing changed; it is never modified), changed ones with a
// new Set, interpolated backfills before the update that completed them,
// and incidents after the update that raised them. now is the arrival time.
func (e *Engine) Process(updates []model.Update, now time.Time) []model.Update {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.rules) == 0 {
		return updates
	}
	var out []model.Update
	changed := false
	for i := range updates {
		u := &updates[i]
		e.remember(u)
		var before, after []model.Update
		var set map[string]any // copy of u.Set once changed
		l, vals := e.layoutOf(u, e.scratchVals)
		e.scratchVals = vals
		if l.doc == nil && len(e.limitFields) > 0 {
			l.doc = e.docFields[docKey{u.Layer, u.Collection, u.ID}]
		}
		e.doc = l.doc
		measurements := l.nMeas
		for j, key := range l.keys[:l.nMeas] {
			k := fieldKey{u.Layer, u.Collection, u.ID, key[len(model.MeasurementsPrefix):]}
			st := l.states[j]
			e.refresh(st, &k)
			if len(st.rules) == 0 {
				continue
			}
			mm, ok := model.MeasurementOf(vals[j])
			if !ok {
				continue
			}
			m := reading{value: mm.Value, quality: mm.Quality, ts: mm.Timestamp}
			if m.ts.IsZero() {
				m.ts = u.TS
			}
			res := e.assess(st, &k, &m, now, &before, &after)
			if res == keep {
				continue
			}
			if set == nil {
				set = make(map[string]any, len(u.Set))
				for k, v := range u.Set {
					set[k] = v
				}
			}
			if res == drop {
				delete(set, key)
				measurements--
			} else {
				set[key] = writeMeasurement(u.Set[key], &m)
			}
		}
		clear(vals) // do not keep the update's values alive
		e.doc = nil
		if set == nil && before == nil && after == nil {
			if changed {
				out = append(out, *u)
			}
			continue
		}
		if !changed {
			changed = true
			out = append(make([]model.Update, 0, len(updates)+len(before)+len(after)), updates[:i]...)
		}
		out = append(out, before...)
		if set == nil {
			out = append(out, *u)
		} else {
			if measurements == 0 {
				delete(set, model.MeasurementsTimestampField)
			}
			if len(set) > 0 {
				nu := *u
				nu.Set = set
				out = append(out, nu)
			}
		}
		out = append(out, after...)
	}
	if !changed {
		return updates
	}
	return out
}

// result of assessing one measurement
type result uint8

const (
	keep    result = iota // unchanged
	drop                  // removed
	rewrite               // value or quality changed
)

// reading is one measurement being assessed.
type reading struct {
	value   any
	quality int
	ts      time.Time
	num     float64
	isNum   bool

	// what several rules derive from the reading and the field's state,
	// computed once, on first use (derived says which)
	derived   uint8
	good      float64       // the last good value, as a number
	goodIsNum bool          // good is set
	sinceGood time.Duration // ts - the last good value's
	ahead     time.Duration // ts - now
	behind    time.Duration // now - ts
}

const (
	derivedGood uint8 = 1 << iota
	derivedNow
)

// lastGood returns the last good value as a number and the time since it
// (ok false when there is none, or it is not a number).
func (m *reading) lastGood(st *fieldState) (float64, time.Duration, bool) {
	if m.derived&derivedGood == 0 {
		m.derived |= derivedGood
		if st.hasGood {
			m.good, m.goodIsNum = model.Float(st.good)
			m.sinceGood = m.ts.Sub(st.goodTS)
		}
	}
	return m.good, m.sinceGood, m.goodIsNum
}

// relative returns ts - now and now - ts.
func (m *reading) relative(now time.Time) (ahead, behind time.Duration) {
	if m.derived&derivedNow == 0 {
		m.derived |= derivedNow
		m.ahead, m.behind = m.ts.Sub(now), now.Sub(m.ts)
	}
	return m.ahead, m.behind
}

// assess runs the rule chain on one reading and updates the field's state.
func (e *Engine) assess(st *fieldState, k *fieldKey, m *reading, now time.Time, before, after *[]model.Update) result {
	m.num, m.isNum = model.Float(m.value)
	res := keep
	anyBad := false
	raw := m.value
	for i, r := range st.rules {
		rs := &st.rs[i]
		stats := r.stats
		stats.Evaluated++
		bad, reason := e.detect(r, st, rs, k, m, raw, now, stats)
		rs.lastBad = bad
		if !bad {
			continue
		}
		anyBad = true
		stats.Detected++
		if r.incident != nil {
			if rs.lastIncident.IsZero() || now.Sub(rs.lastIncident) >= r.cooldown {
				rs.lastIncident = now
				stats.Incidents++
				*after = append(*after, incident(r, k, raw, m.ts, reason, now))
			} else {
				stats.Suppressed++
			}
		}
		if r.flag >= 0 {
			m.quality = r.flag
			stats.Flagged++
			res = rewrite
		}
		if r.discard {
			stats.Discarded++
			res = drop
			break
		}
		if r.replace == ReplaceInterpolate && m.isNum {
			if len(st.pending) >= r.maxPend {
				st.pending[0].stats.Expired++
				st.pending = st.pending[1:]
			}
			st.pending = append(st.pending, pending{ts: m.ts, rule: r, stats: stats, maxGap: r.maxGap})
			stats.Withheld++
			res = drop
			break
		}
		if r.replace != "" {
			v, ok := replacement(r, st)
			if !ok {
				stats.Discarded++
				res = drop
				break
			}
			m.value, m.quality = v, model.QualitySubstituted
			stats.Replaced++
			res = rewrite
			break
		}
	}
	if !anyBad {
		if len(st.pending) > 0 {
			e.backfill(st, k, m, before)
		}
		st.hasGood, st.good, st.goodTS = true, raw, m.ts
	}
	st.hasRaw, st.raw, st.rawTS = true, raw, m.ts
	st.lastSeen = now
	if st.staleReported {
		for i := range st.rs {
			st.rs[i].staleReported = false
		}
		st.staleReported = false
	}
	if res != drop {
		st.hasEmitted, st.emitted = true, m.value
	}
	return res
}

// replacement returns the value a replace action puts in place.
func replacement(r *rule, st *fieldState) (any, bool) {
	switch r.replace {
	case ReplaceLast:
		if st.hasGood {
			return st.good, true
		}
	case ReplaceHold, ReplaceInterpolate: // interpolate of a non-number holds
		if st.hasEmitted {
			return st.emitted, true
		}
	}
	return r.value, r.hasValue
}

// backfill emits the withheld readings of st, interpolated between the last
// good reading and m.
func (e *Engine) backfill(st *fieldState, k *fieldKey, m *reading, before *[]model.Update) {
	g0, ok0 := model.Float(st.good)
	for _, p := range st.pending {
		v := m.value
		if m.isNum && st.hasGood && ok0 {
			span := m.ts.Sub(st.goodTS).Seconds()
			if span > 0 {
				v = g0 + (m.num-g0)*p.ts.Sub(st.goodTS).Seconds()/span
			}
		}
		*before = append(*before, model.Update{Layer: k.layer, Collection: k.collection, ID: k.id, TS: p.ts.UTC(),
			Set: map[string]any{model.MeasurementsPrefix + k.field: model.Measurement{Value: v, Quality: model.QualitySubstituted, Timestamp: p.ts.UTC()}}})
		p.stats.Interpolated++
	}
	st.pending = st.pending[:0]
}

// detect runs r's detector on m.
func (e *Engine) detect(r *rule, st *fieldState, rs *ruleFieldState, k *fieldKey, m *reading, raw any, now time.Time, stats *RuleStats) (bool, string) {
	d := &r.det
	switch r.kind {
	case detRange:
		if !m.isNum {
			return false, ""
		}
		if lo, ok := e.limit(k, d.Min, d.MinField, r.minF); ok && m.num < lo {
			return true, fmt.Sprintf("%v is below the minimum %v", m.num, lo)
		}
		if hi, ok := e.limit(k, d.Max, d.MaxField, r.maxF); ok && m.num > hi {
			return true, fmt.Sprintf("%v is above the maximum %v", m.num, hi)
		}
	case detRate:
		if !m.isNum || !st.hasGood {
			return false, ""
		}
		g, dt, ok := m.lastGood(st)
		if !ok {
			return false, ""
		}
		if why := exceeds(d, m.num, g, dt); why != "" {
			if p, ok := model.Float(st.raw); ok && rs.lastBad && exceeds(d, m.num, p, m.ts.Sub(st.rawTS)) == "" {
				return false, "" // agrees with the previous (flagged) reading: a level shift
			}
			return true, why + " since the last good value"
		}
	case detFlatline:
		if !m.isNum {
			rs.runSet = false
			return false, ""
		}
		if rs.runSet && math.Abs(m.num-rs.runValue) <= d.Tolerance {
			rs.runCount++
		} else {
			rs.runSet, rs.runValue, rs.runCount, rs.runSince = true, m.num, 1, m.ts
		}
		if d.Count > 0 && rs.runCount >= d.Count {
			return true, fmt.Sprintf("unchanged for %d readings", rs.runCount)
		}
		if d.Duration > 0 && m.ts.Sub(rs.runSince) >= d.Duration.Std() {
			return true, fmt.Sprintf("unchanged for %v", m.ts.Sub(rs.runSince))
		}
	case detNaN:
		if m.isNum && (math.IsNaN(m.num) || math.IsInf(m.num, 0)) {
			return true, fmt.Sprintf("value is %v", m.num)
		}
	case detTimestamp:
		ahead, behind := m.relative(now)
		if d.MaxFuture > 0 && ahead > d.MaxFuture.Std() {
			return true, fmt.Sprintf("timestamp %s is %v in the future", m.ts.UTC().Format(time.RFC3339Nano), ahead)
		}
		if d.MaxPast > 0 && behind > d.MaxPast.Std() {
			return true, fmt.Sprintf("timestamp %s is %v in the past", m.ts.UTC().Format(time.RFC3339Nano), behind)
		}
	case detDuplicate:
		if st.hasRaw && (m.ts.Equal(st.rawTS) || (d.OutOfOrder && m.ts.Before(st.rawTS))) {
			return true, fmt.Sprintf("timestamp %s repeats or precedes the previous reading's (%s)", m.ts.UTC().Format(time.RFC3339Nano), st.rawTS.UTC().Format(time.RFC3339Nano))
		}
	case detExpression:
		v, err := e.evalCondition(r, st, k, m, raw)
		if err != nil {
			stats.Errors++
			stats.LastError = err.Error()
			return false, ""
		}
		if truthy(v) {
			return true, "condition " + strconv.Quote(d.Condition) + " holds"
		}
	}
	return false, ""
}

// evalCondition evaluates an expression rule's condition on m. The
// context is given positionally (EvalVars), computing only the variables
// the condition uses, so that a reading costs no map.
func (e *Engine) evalCondition(r *rule, st *fieldState, k *fieldKey, m *reading, raw any) (any, error) {
	if !r.cond.VarsOnly() || len(r.condVars) > maxCondVars {
		return r.cond.Eval(conditionEnv(st, k, m, raw))
	}
	var buf [maxCondVars]any
	vals := buf[:len(r.condVars)]
	for i, cv := range r.condVars {
		var v any = expression.Undefined
		switch cv {
		case cvValue:
			v = raw
		case cvQuality:
			v = m.quality
		case cvTimestamp:
			v = m.ts
		case cvField:
			v = k.field
		case cvDocument:
			v = k.id
		case cvCollection:
			v = k.layer + "_" + k.collection
		case cvPrevious:
			if st.hasRaw {
				v = st.raw
			}
		case cvPreviousTimestamp:
			if st.hasRaw {
				v = st.rawTS
			}
		case cvDt:
			if st.hasRaw {
				v = m.ts.Sub(st.rawTS).Seconds()
			}
		case cvLastGood:
			if st.hasGood {
				v = st.good
			}
		}
		vals[i] = v
	}
	return r.cond.EvalVars(vals)
}

// conditionEnv is the context of an expression condition as a map.
func conditionEnv(st *fieldState, k *fieldKey, m *reading, raw any) map[string]any {
	env := map[string]any{
		"value": raw, "quality": m.quality, "timestamp": m.ts, "field": k.field,
		"document": k.id, "collection": k.layer + "_" + k.collection,
	}
	if st.hasRaw {
		env["previous"], env["previousTimestamp"], env["dt"] = st.raw, st.rawTS, m.ts.Sub(st.rawTS).Seconds()
	}
	if st.hasGood {
		env["lastGood"] = st.good
	}
	return env
}

// exceeds reports how v moved too much from prev over dt, or "".
func exceeds(d *Detect, v, prev float64, dt time.Duration) string {
	delta := math.Abs(v - prev)
	if d.MaxDelta != nil && delta > *d.MaxDelta {
		return fmt.Sprintf("changed by %v (more than %v)", delta, *d.MaxDelta)
	}
	if d.MaxRate != nil && dt > 0 {
		if rate := delta / dt.Seconds(); rate > *d.MaxRate {
			return fmt.Sprintf("changed at %v/s (more than %v/s)", rate, *d.MaxRate)
		}
	}
	return ""
}

// limit returns a range limit: the document field's value times factor when
// known, else the fixed limit.
func (e *Engine) limit(k *fieldKey, fixed *float64, field string, factor float64) (float64, bool) {
	if field != "" {
		if v, ok := e.doc[field]; ok { // e.doc is k's document's docFields
			return v * factor, true
		}
		if e.opts.Field != nil {
			if v, ok := e.opts.Field(k.layer, k.collection, k.id, field); ok {
				if f, ok := model.Float(v); ok {
					return f * factor, true
				}
			}
		}
	}
	if fixed != nil {
		return *fixed, true
	}
	return 0, false
}

// remember keeps the fields named by range rules' minField/maxField.
func (e *Engine) remember(u *model.Update) {
	for _, f := range e.limitFields {
		v, ok := u.Set[f]
		if !ok {
			continue
		}
		if mv, isM := model.MeasurementOf(v); isM {
			v = mv.Value
		}
		n, ok := model.Float(v)
		if !ok {
			continue
		}
		dk := docKey{u.Layer, u.Collection, u.ID}
		m := e.docFields[dk]
		if m == nil {
			m = map[string]float64{}
			e.docFields[dk] = m
		}
		m[f] = n
	}
}

// Tick finds stale fields (no reading within a stale rule's after) and
// expires withheld readings; it returns the updates the rules' actions
// produce (flags, replacements, incidents). The caller ticks it, e.g.
// every second, with the current time.
func (e *Engine) Tick(now time.Time) []model.Update {
	e.mu.Lock()
	defer e.mu.Unlock()
	keys := make([]fieldKey, 0, len(e.fields))
	for k := range e.fields {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fieldKey) int {
		return strings.Compare(a.layer+"\x00"+a.collection+"\x00"+a.id+"\x00"+a.field, b.layer+"\x00"+b.collection+"\x00"+b.id+"\x00"+b.field)
	})
	var out []model.Update
	for _, k := range keys {
		st := e.state(&k)
		kept := st.pending[:0]
		for _, p := range st.pending {
			if now.Sub(p.ts) > p.maxGap {
				p.stats.Expired++
				continue
			}
			kept = append(kept, p)
		}
		st.pending = kept
		if !st.hasRaw {
			continue
		}
		for i, r := range st.rules {
			rs := &st.rs[i]
			if r.kind != detStale || rs.staleReported || now.Sub(st.lastSeen) <= r.det.After.Std() {
				continue
			}
			rs.staleReported = true
			st.staleReported = true
			stats := r.stats
			stats.Evaluated++
			stats.Detected++
			reason := fmt.Sprintf("no reading for %v", now.Sub(st.lastSeen).Round(time.Millisecond))
			m := reading{value: st.emitted, quality: model.QualityGood, ts: now.UTC()}
			emit := false
			if r.flag >= 0 {
				m.quality = r.flag
				stats.Flagged++
				emit = true
			}
			if r.replace != "" {
				if v, ok := replacement(r, st); ok {
					m.value, m.quality = v, model.QualitySubstituted
					stats.Replaced++
					emit = true
				}
			}
			if emit {
				out = append(out, model.Update{Layer: k.layer, Collection: k.collection, ID: k.id, TS: m.ts,
					Set: map[string]any{model.MeasurementsPrefix + k.field: model.Measurement{Value: m.value, Quality: m.quality, Timestamp: m.ts}}})
			}
			if r.incident != nil {
				if rs.lastIncident.IsZero() || now.Sub(rs.lastIncident) >= r.cooldown {
					rs.lastIncident = now
					stats.Incidents++
					out = append(out, incident(r, &k, st.raw, st.rawTS, reason, now))
				} else {
					stats.Suppressed++
				}
			}
		}
	}
	return out
}

// incident builds the incident document update (seed 3.2.4): layer
// incidents, collection items, with type, details and description. Its id
// is derived from the rule, the field and the reading's time, so that an
// update applied twice creates one incident.
func incident(r *rule, k *fieldKey, value any, ts time.Time, reason string, now time.Time) model.Update {
	a := r.incident
	typ := a.IncidentType
	if typ == "" {
		typ = DefaultIncidentType
	}
	coll := k.layer + "_" + k.collection
	v := jsonSafe(value)
	desc := a.Description
	if desc == "" {
		desc = fmt.Sprintf("Bad data (%s) on %s.%s %s: %s", r.det.Type, coll, k.id, k.field, reason)
	} else {
		desc = strings.NewReplacer("{rule}", r.id, "{collection}", coll, "{document}", k.id, "{field}", k.field,
			"{value}", fmt.Sprint(v), "{reason}", reason, "{timestamp}", ts.UTC().Format(time.RFC3339Nano)).Replace(desc)
	}
	id := fmt.Sprintf("baddata:%s:%s:%s:%s:%d", r.id, coll, k.id, k.field, ts.UnixMilli())
	return model.Update{Layer: IncidentLayer, Collection: IncidentCollection, ID: id, TS: now.UTC(), Set: map[string]any{
		"type": typ,
		"details": map[string]any{
			"rule": r.id, "detector": r.det.Type, "reason": reason,
			"layer": k.layer, "collection": k.collection, "document": k.id, "field": k.field,
			"value": v, "timestamp": ts.UTC(),
		},
		"description": desc,
	}}
}

// jsonSafe turns NaN and ±Inf, which JSON cannot carry, into strings.
func jsonSafe(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return v
}

// writeMeasurement returns orig (a measurement in either form) with m's
// value and quality.
func writeMeasurement(orig any, m *reading) any {
	switch t := orig.(type) {
	case model.Measurement:
		t.Value, t.Quality = m.value, m.quality
		return t
	case *model.Measurement:
		return model.Measurement{Value: m.value, Quality: m.quality, Timestamp: t.Timestamp}
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, v := range t {
			c[k] = v
		}
		c["value"], c["quality"] = m.value, m.quality
		return c
	}
	return orig
}

// truthy is JavaScript's truthiness of an expression result.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case float64:
		return t != 0 && !math.IsNaN(t)
	case string:
		return t != ""
	}
	return true
}
