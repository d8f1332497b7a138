package daemon

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

// TestApplyGCPercentSetsTarget: gcPercent (or the default) becomes the
// garbage collector's target unless GOGC is set, which leaves it alone.
func TestApplyGCPercentSetsTarget(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		name string
		pct  int
		gogc string
		want int
	}{
		{name: "default", want: defaultGCPercent},
		{name: "gcPercent", pct: 40, want: 40},
		{name: "GOGC wins", pct: 40, gogc: "200", want: 33}, // the value set before the call
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(33)
			t.Setenv("GOGC", c.gogc)
			ApplyGCPercent(&Config{GCPercent: c.pct}, log)
			if got := debug.SetGCPercent(100); got != c.want {
				t.Errorf("GC percent after ApplyGCPercent: got %d, want %d", got, c.want)
			}
		})
	}
}
