// Grants: per-layer (and per-bucket) permissions as users and apps keep them.

package auth

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/hub/store"
)

// CheckGrants validates grant keys: layer names or "fs:<bucket>".
func CheckGrants(grants map[string]Perm) error {
	for k, p := range grants {
		name, what := k, "layer"
		if b, ok := strings.CutPrefix(k, "fs:"); ok {
			name, what = b, "bucket"
		}
		if err := store.CheckName("layer", name); err != nil {
			return fmt.Errorf("%w: grant on %s %q: %v", ErrInvalid, what, k, err)
		}
		if p < None || p > Write {
			return fmt.Errorf("%w: grant on %q: bad permission %d", ErrInvalid, k, int(p))
		}
	}
	return nil
}

func grantsDoc(g map[string]Perm) map[string]any {
	out := make(map[string]any, len(g))
	for _, k := range slices.Sorted(maps.Keys(g)) {
		if g[k] != None {
			out[k] = g[k].String()
		}
	}
	return out
}

func grantsFromDoc(v any) map[string]Perm {
	out := map[string]Perm{}
	m, _ := v.(map[string]any)
	for k, pv := range m {
		s, _ := pv.(string)
		if p, err := ParsePerm(s); err == nil && p != None {
			out[k] = p
		}
	}
	return out
}
