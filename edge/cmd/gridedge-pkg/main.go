// Command gridedge-pkg builds the Debian packages of the GridEdge agent and
// hub, and the first-boot bundles of firmware profiles, from binaries make
// has built. make packages and make firmware run it; see docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/gridedge/gridedge/edge/packaging"
	"github.com/gridedge/gridedge/shared/command"
)

func main() { command.Main("gridedge-pkg", run) }

const usage = `Usage:
  gridedge-pkg agent --binary FILE --version V (--profile FILE [--bundle] | --arch ARCH --unit FILE) [--out DIR]
  gridedge-pkg hub --binary FILE --version V --arch ARCH --unit FILE [--out DIR]
  gridedge-pkg target --profile FILE

agent: the gridedge-agent package for a firmware profile (firmware-profiles/*.yaml),
       with --bundle also its first-boot bundle; or for an architecture
       (amd64, armhf, arm64) with the standard paths.
hub:   the gridedge-hub package (amd64, arm64).
target: the profile's Go target as shell assignments (GOOS=linux GOARCH=arm GOARM=7).
Files are stamped with $SOURCE_DATE_EPOCH when set (reproducible packages).

Flags:
`

func run(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "agent" && args[0] != "hub" && args[0] != "target") {
		fmt.Fprint(stderr, usage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return errors.New("want a subcommand: agent, hub or target (see --help)")
	}
	what := args[0]
	fs := flag.NewFlagSet("gridedge-pkg "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	binary := fs.String("binary", "", "the binary to package, built for the target (required)")
	version := fs.String("version", "", "build version, e.g. v1.2.0 or git describe output (required)")
	arch := fs.String("arch", "", "Debian architecture: amd64, armhf, arm64")
	unit := fs.String("unit", "", "systemd unit file")
	profile := fs.String("profile", "", "agent: firmware profile file")
	bundle := fs.Bool("bundle", false, "agent: also write the profile's first-boot bundle")
	out := fs.String("out", "dist", "output directory")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if what == "target" {
		if *profile == "" {
			return errors.New("target: --profile is required")
		}
		p, err := packaging.LoadProfile(*profile)
		if err != nil {
			return err
		}
		// validated values: safe for eval in make
		fmt.Fprintf(stdout, "GOOS=%s GOARCH=%s GOARM=%s\n", p.GOOS, p.GOARCH, goarm(p.GOARM))
		return nil
	}
	if *binary == "" || *version == "" {
		return errors.New("--binary and --version are required (see --help)")
	}
	debVersion, err := packaging.DebVersion(*version)
	if err != nil {
		return err
	}
	mtime, err := sourceDate()
	if err != nil {
		return err
	}

	var pkg *packaging.Package
	var prof *packaging.Profile
	switch {
	case what == "hub":
		if *profile != "" || *bundle {
			return errors.New("--profile and --bundle are for agent packages")
		}
		if *unit == "" || *arch == "" {
			return errors.New("hub: --arch and --unit are required")
		}
		pkg, err = packaging.HubPackage(*arch, *binary, *unit, debVersion)
	case *profile != "":
		if *arch != "" || *unit != "" {
			return errors.New("agent: --profile sets the architecture and the unit; leave out --arch and --unit")
		}
		if prof, err = packaging.LoadProfile(*profile); err != nil {
			return err
		}
		pkg, err = packaging.AgentPackage(prof, *binary, debVersion)
	default:
		if *bundle {
			return errors.New("agent: --bundle needs --profile")
		}
		if *unit == "" || *arch == "" {
			return errors.New("agent: give --profile, or --arch and --unit")
		}
		goarch, goarm, aerr := goTarget(*arch)
		if aerr != nil {
			return aerr
		}
		pkg, err = packaging.AgentPackage(packaging.GenericProfile(goarch, goarm, *unit), *binary, debVersion)
	}
	if err != nil {
		return err
	}
	deb, err := pkg.WriteDebFile(*out, mtime)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, deb)
	if *bundle {
		b, err := packaging.WriteBundleFile(*out, prof, pkg, deb, mtime)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, b)
	}
	return nil
}

func goarm(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}

// goTarget is the Go target of a Debian architecture.
func goTarget(arch string) (goarch string, goarm int, err error) {
	switch arch {
	case "amd64", "arm64":
		return arch, 0, nil
	case "armhf":
		return "arm", 7, nil
	}
	return "", 0, fmt.Errorf("--arch %q: want amd64, armhf or arm64", arch)
}

// sourceDate is $SOURCE_DATE_EPOCH (reproducible builds), else now.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
