package codec

import (
	"fmt"
	"math"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
)

// lookupLabel finds the label of the scaled value f: exactly, else within
// integralTolerance relative.
func lookupLabel(t settings.Translation, f float64) (any, bool) {
	if label, ok := t.Lookup(f); ok {
		return label, true
	}
	for _, p := range t {
		if math.Abs(p.Raw-f) <= integralTolerance*max(math.Abs(p.Raw), math.Abs(f)) {
			return p.Label, true
		}
	}
	return nil, false
}

// translateBool returns the label of b (looked up as 0 or 1) or b itself.
func translateBool(v *settings.Variable, b bool) any {
	if len(v.Translation) > 0 {
		raw := 0.0
		if b {
			raw = 1
		}
		if label, ok := v.Translation.Lookup(raw); ok {
			return label
		}
	}
	return b
}

// labelList lists a translation's labels for error messages.
func labelList(t settings.Translation) string {
	var b strings.Builder
	for i, p := range t {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, p.Label)
	}
	return b.String()
}
