// What a principal may see of a layer's documents: the layer check shared
// by the REST API and DDP, the public-attribute view, and the field paths a
// selector reads (which a public-only caller may only take from the public
// attributes).

package auth

import (
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// CheckLayer checks p's permission on a layer: the system layer is for
// admins only; otherwise p needs at least need. The error wraps
// ErrUnauthorized for an anonymous caller and ErrForbidden for others.
func CheckLayer(p *Principal, layer string, need Perm) error {
	if layer == SystemLayer && !p.Admin {
		if !p.Authenticated() {
			return fmt.Errorf("%w: log in first", ErrUnauthorized)
		}
		return fmt.Errorf("%w: only admins may access layer %q", ErrForbidden, layer)
	}
	if p.Can(layer, need) {
		return nil
	}
	if !p.Authenticated() {
		return fmt.Errorf("%w: log in first", ErrUnauthorized)
	}
	if have := p.Access(layer); have != None {
		return fmt.Errorf("%w: %s %q may only %s layer %q; this needs %s", ErrForbidden, p.Kind, p.ID, have, layer, need)
	}
	return fmt.Errorf("%w: %s %q has no grant on layer %q", ErrForbidden, p.Kind, p.ID, layer)
}

// PublicView returns a new document with only _id and the public
// attributes of d.
func PublicView(d store.Document, public []string) store.Document {
	out := store.Document{}
	if v, ok := d["_id"]; ok {
		out["_id"] = v
	}
	for _, f := range public {
		if v, ok := query.Get(d, f); ok {
			_ = store.SetPath(out, f, v)
		}
	}
	return out
}

// WithoutSecrets returns d without the secret attributes of system
// documents (SecretFields); d itself is not changed.
func WithoutSecrets(d store.Document) store.Document {
	out := make(store.Document, len(d))
	for k, v := range d {
		out[k] = v
	}
	for _, f := range SecretFields {
		delete(out, f)
	}
	return out
}

// SelectorPaths lists the field paths a MongoDB selector tests, through
// $and, $or, $nor and $not; paths inside operators ($elemMatch) count as
// their field.
func SelectorPaths(m map[string]any) []string { return selectorPaths(m, "") }

func selectorPaths(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		switch {
		case k == "$and" || k == "$or" || k == "$nor":
			arr, _ := v.([]any)
			for _, e := range arr {
				if sub, ok := e.(map[string]any); ok {
					out = append(out, selectorPaths(sub, prefix)...)
				}
			}
		case strings.HasPrefix(k, "$"):
			if prefix != "" {
				out = append(out, prefix)
			}
		default:
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, p)
		}
	}
	return out
}

// CheckPublicPaths refuses paths outside the public attributes: selecting
// or sorting on a private field would leak it to a public-only caller.
func CheckPublicPaths(public []string, what string, paths []string) error {
	for _, f := range paths {
		if !FieldAllowed(public, f) {
			return fmt.Errorf("%w: %s uses %q, which is not a public attribute (public: %s)",
				ErrForbidden, what, f, strings.Join(public, ", "))
		}
	}
	return nil
}
