package ddp

import (
	"context"
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// target is a collection a caller may use, with what it may see of it.
type target struct {
	layer, col string
	publicOnly bool
	public     []string
	system     bool
}

// target checks that p may use the collection "<layer>_<collection>" with
// need and that it exists. Permission is checked first, so that a caller
// without a grant cannot learn which layers exist (auth.CheckLayer, as the
// REST API does).
func (s *Server) target(ctx context.Context, p *auth.Principal, coll string, need auth.Perm) (*target, error) {
	layer, col, ok := splitCollection(coll)
	if !ok {
		return nil, Errorf(400, "collection %q: want <layer>_<collection>", coll)
	}
	if err := auth.CheckLayer(p, layer, need); err != nil {
		return nil, err
	}
	t := &target{layer: layer, col: col, system: layer == auth.SystemLayer}
	if t.system && need > auth.Read {
		return nil, Errorf(403, "layer %q is read-only over DDP; manage users and apps through the REST API", layer)
	}
	l, err := s.cfg.Store.Layer(ctx, layer)
	if err != nil {
		return nil, fmt.Errorf("collection %s: %w", coll, err)
	}
	c := l.Collection(col)
	if c == nil {
		return nil, fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	if p.Access(layer) == auth.Public {
		t.publicOnly = true
		t.public = auth.PublicFields(c.Extra, l.Config, col)
	}
	return t, nil
}

// checkPaths refuses paths outside the public attributes for a public-only caller.
func (t *target) checkPaths(what string, paths []string) error {
	if !t.publicOnly {
		return nil
	}
	return auth.CheckPublicPaths(t.public, what, paths)
}

// selector compiles a selector given as an object, or as a document id.
func (t *target) selector(v any) (*query.Selector, error) {
	var m map[string]any
	switch x := v.(type) {
	case map[string]any:
		m = x
	case string:
		m = map[string]any{store.FieldID: x}
	default:
		return nil, Errorf(400, "the selector must be an object or a document id")
	}
	if err := t.checkPaths("the selector", auth.SelectorPaths(m)); err != nil {
		return nil, err
	}
	sel, err := query.CompileSelector(m)
	if err != nil {
		return nil, Errorf(400, "selector: %v", err)
	}
	return sel, nil
}

// output is what the caller may see of d.
func (t *target) output(d store.Document) store.Document {
	if t.publicOnly {
		d = auth.PublicView(d, t.public)
	}
	if t.system {
		d = auth.WithoutSecrets(d)
	}
	return d
}

// viewKey names what a subscription with this target and projection
// publishes of a document: subscriptions with equal keys share one
// encoding per change event.
func (t *target) viewKey(proj *query.Projection) string {
	var b strings.Builder
	if t.publicOnly {
		b.WriteString("public:" + strings.Join(t.public, ","))
	} else {
		b.WriteString("all")
	}
	if t.system {
		b.WriteString("|system")
	}
	if proj != nil {
		fmt.Fprintf(&b, "|%p", proj)
	}
	return b.String()
}
