package mongo

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFerretDBStaysOutOfTheHub: FerretDB and its SQLite driver are test
// dependencies (package mongotest/ferret) and must not reach the hub binary.
func TestFerretDBStaysOutOfTheHub(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/gridedge/gridedge/hub/cmd/gridedge-hub").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/gridedge-hub: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range []string{"github.com/FerretDB/", "modernc.org/sqlite", "github.com/gridedge/gridedge/hub/store/mongo/mongotest"} {
			if strings.HasPrefix(dep, f) {
				t.Errorf("gridedge-hub depends on %s", dep)
			}
		}
	}
}
