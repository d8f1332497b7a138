package vsensors

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

// Converter applies a data-model converter (seed 3.2.3) by id;
// *convert.Registry is one.
type Converter interface {
	Apply(ctx context.Context, id string, doc map[string]any) (any, error)
}

// validateConverters checks that every key of Config.Converters names a
// sensor of the settings ("<layer>_<collection>.<id>").
func validateConverters(convs map[string]string, g *graph, path string, es *config.Errors) {
	for name, id := range convs {
		p := config.Join(path, "converters")
		if _, ok := g.sensorOut[name]; !ok {
			known := make([]string, 0, len(g.sensorOut))
			for n := range g.sensorOut {
				known = append(known, n)
			}
			slices.Sort(known)
			es.Add(p, "%q is not a virtual sensor of the settings (<layer>_<collection>.<id>: %s)", name, strings.Join(known, ", "))
		}
		if strings.TrimSpace(id) == "" {
			es.Add(p, "%q: the converter id is empty", name)
		}
	}
}

// convert passes the output u of sensor name through its converter, when
// Config.Converters names one: the converter gets the output as a
// document ({_id, …the template's fields}) and its result is written in
// its place, top-level fields replaced and, as with the seed's templates,
// the entries of measurements set one by one.
func (s *Service) convert(ctx context.Context, name string, u *model.Update) error {
	id := s.cfg.Converters[name]
	if id == "" {
		return nil
	}
	doc := map[string]any{store.FieldID: u.ID}
	for k, v := range u.Set {
		setPath(doc, k, v)
	}
	out, err := s.opts.Converter.Apply(ctx, id, doc)
	if err != nil {
		return fmt.Errorf("converter %q: %w", id, err)
	}
	m, ok := out.(map[string]any)
	if !ok {
		return fmt.Errorf("converter %q returned %T, not an object", id, out)
	}
	set := make(map[string]any, len(m))
	for k, v := range m {
		if k == store.FieldID {
			continue
		}
		if ms, isObj := v.(map[string]any); isObj && k == "measurements" {
			for mname, mv := range ms {
				set[model.MeasurementsPrefix+mname] = mv
			}
			continue
		}
		set[k] = v
	}
	u.Set = set
	return nil
}
