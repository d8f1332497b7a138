// Package version reports the version of the GridEdge binaries.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at build time with
// -ldflags "-X github.com/gridedge/gridedge/shared/version.Version=v1.2.3".
var Version = ""

// String returns the version: the one set at build time, else the module
// version or VCS revision from the build information, else "dev".
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// Full returns "<name> <version> (<goos>/<goarch>, <go version>)".
func Full(name string) string {
	return name + " " + String() + " (" + runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version() + ")"
}
