package vsensors

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
)

// docKey names a document.
type docKey struct{ layer, collection, id string }

func (k docKey) String() string { return k.layer + "_" + k.collection + "." + k.id }

// propRef is a referenced property: document, dotted route, and whether
// the reference gives a default.
type propRef struct {
	doc        docKey
	route      string
	hasDefault bool
}

// refPattern finds the properties a template string references: both
// {collection.id>route|default} and the manual's {collection.id}>route.
var refPattern = regexp.MustCompile(`\{([A-Za-z0-9-]+_[A-Za-z0-9_-]+)\.([^{}>|"'\s]+?)\}?>\s*([A-Za-z0-9_.-]*)\s*(\|?)`)

// refsOf collects the properties referenced anywhere in v.
func refsOf(v any, into map[propRef]bool) {
	switch t := v.(type) {
	case string:
		for _, m := range refPattern.FindAllStringSubmatch(t, -1) {
			layer, col, _ := strings.Cut(m[1], "_")
			into[propRef{docKey{layer, col, m[2]}, m[3], m[4] == "|"}] = true
		}
	case map[string]any:
		for _, x := range t {
			refsOf(x, into)
		}
	case []any:
		for _, x := range t {
			refsOf(x, into)
		}
	}
}

// graph is what the service needs to know of the settings: each sensor's
// output document and inputs.
type graph struct {
	outputs   map[docKey]string          // output document → sensor name
	inputs    map[docKey][]string        // input document → sensors using it
	sensorIn  map[string][]docKey        // sensor name → its input documents
	props     map[string][]propRef       // sensor name → the properties it references
	sensorOut map[string]docKey          // sensor name → its output document
	measures  map[string][]string        // sensor name → template measurement names
	poll      map[string]bool            // sensor name → poll mode
	order     []string                   // sensor names in definition order
	deps      map[string]map[string]bool // sensor → sensors whose output it uses
}

// analyse builds the graph of s and refuses loops.
func analyse(s *vsensor.Settings) (*graph, error) {
	g := &graph{outputs: map[docKey]string{}, inputs: map[docKey][]string{}, sensorIn: map[string][]docKey{}, props: map[string][]propRef{},
		sensorOut: map[string]docKey{}, measures: map[string][]string{}, poll: map[string]bool{}, deps: map[string]map[string]bool{}}
	for gi := range s.Sensors {
		grp := &s.Sensors[gi]
		layer, col, _ := strings.Cut(grp.Collection, "_")
		for _, sen := range grp.List() {
			name := grp.Collection + "." + sen.ID
			out := docKey{layer, col, sen.ID}
			g.outputs[out] = name
			g.sensorOut[name] = out
			g.poll[name] = sen.Poll
			g.order = append(g.order, name)
			refs := map[propRef]bool{}
			refsOf(sen.Template, refs)
			for _, v := range sen.Vars {
				refsOf(v, refs)
			}
			docs := map[docKey]bool{}
			for r := range refs {
				docs[r.doc] = true
				g.props[name] = append(g.props[name], r)
			}
			slices.SortFunc(g.props[name], func(a, b propRef) int {
				return strings.Compare(a.doc.String()+">"+a.route, b.doc.String()+">"+b.route)
			})
			keys := make([]docKey, 0, len(docs))
			for k := range docs {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b docKey) int { return strings.Compare(a.String(), b.String()) })
			g.sensorIn[name] = keys
			for _, k := range keys {
				g.inputs[k] = append(g.inputs[k], name)
			}
			if m, ok := sen.Template["measurements"].(map[string]any); ok {
				for k := range m {
					g.measures[name] = append(g.measures[name], k)
				}
				slices.Sort(g.measures[name])
			}
		}
	}
	for _, name := range g.order {
		g.deps[name] = map[string]bool{}
		for _, in := range g.sensorIn[name] {
			if src, ok := g.outputs[in]; ok {
				g.deps[name][src] = true
			}
		}
	}
	if cycle := g.cycle(); cycle != nil {
		return nil, fmt.Errorf("virtual sensors form a loop: %s (each uses the output of the next)", strings.Join(cycle, " -> "))
	}
	return g, nil
}

// cycle returns a loop of sensors, or nil.
func (g *graph) cycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		deps := make([]string, 0, len(g.deps[n]))
		for d := range g.deps[n] {
			deps = append(deps, d)
		}
		slices.Sort(deps)
		for _, d := range deps {
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				found = append(slices.Clone(stack[i:]), d)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, n := range g.order {
		if color[n] == white && visit(n) {
			return found
		}
	}
	return nil
}
