package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goList runs go list in one module of the repository.
func goList(t *testing.T, module string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = filepath.Join(repoRoot(), module)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s in %s: %v", strings.Join(args, " "), module, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestAgentStaysSmall: the edge agent binary must not carry hub-only
// dependencies (database drivers, the REST API) or test-only ones (the
// in-process MQTT broker).
func TestAgentStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	forbidden := []string{
		"github.com/gridedge/gridedge/hub/",
		"go.mongodb.org/mongo-driver",
		"github.com/mochi-mqtt/server",
		"github.com/grid-x/",     // a test peer of edge/modbus only
		"github.com/prometheus/", // the hub's history engine
		"github.com/goreleaser/", // the package builder (cmd/gridedge-pkg) only
		"github.com/gridedge/gridedge/edge/packaging",
	}
	for _, dep := range goList(t, "edge", "-deps", "./cmd/gridedge-agent") {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("gridedge-agent depends on %s", dep)
			}
		}
	}
}

// TestEveryPackageHasADocComment, as the style guide asks.
func TestEveryPackageHasADocComment(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	for _, m := range []string{"shared", "edge", "hub"} {
		for _, line := range goList(t, m, "-f", "{{.ImportPath}}|{{.Name}}|{{.Doc}}", "./...") {
			parts := strings.SplitN(line, "|", 3)
			if len(parts) == 3 && parts[1] != "main" && strings.TrimSpace(parts[2]) == "" {
				t.Errorf("package %s has no doc comment", parts[0])
			}
			if len(parts) == 3 && parts[1] == "main" && strings.TrimSpace(parts[2]) == "" {
				t.Errorf("command %s has no doc comment", parts[0])
			}
		}
	}
}
