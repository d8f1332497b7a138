// Package cli implements the gridedge command: fleet operations, Modbus
// tools and the device simulator. Each sub-command lives in its own file and
// is listed in commands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gridedge/gridedge/shared/version"
)

// Env is what a command runs with.
type Env struct {
	// Stdout receives results.
	Stdout io.Writer
	// Stderr receives diagnostics.
	Stderr io.Writer
}

// command is one sub-command.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

// commands lists the sub-commands; a name with a space is a nested command
// ("modbus read").
var commands = []command{
	{"version", "print the version", runVersion},
	{"sim", "serve simulated Modbus devices from a SETTINGS file", runSim},
	{"modbus read", "read and decode values from a Modbus device", runModbusRead},
	{"modbus write", "encode and write a value to a Modbus device", runModbusWrite},
	{"opcua browse", "list an OPC-UA server's nodes", runOPCUABrowse}, {"opcua read", "read OPC-UA node values", runOPCUARead}, {"opcua write", "write an OPC-UA node value (as its current type)", runOPCUAWrite},
	{"user add", "add a hub user (as an admin, through the hub's REST API)", runUserAdd},
	{"user grant", "grant a hub user a permission on a layer", runUserGrant},
	{"user list", "list the hub's users and their grants", runUserList},
	{"app add", "add application credentials (appId/keyId) on the hub", runAppAdd},
	{"expr eval", "evaluate a transformation expression against a JSON context", runExprEval},
	{"context add", "save a connection to a hub's NATS server (like the nats CLI's contexts)", runContextAdd},
	{"context ls", "list the saved connections", runContextLs},
	{"context use", "choose the saved connection commands use by default", runContextUse},
	{"context rm", "remove a saved connection", runContextRm},
	{"key gen", "make an operator nkey pair that signs map pushes", runKeyGen},
	{"map validate", "check a SETTINGS file as an agent does at start-up", runMapValidate},
	{"map diff", "show the variables a SETTINGS file adds, removes and changes per slave", runMapDiff},
	{"map push", "push a signed SETTINGS file to edges (one, selected, or all)", runMapPush},
	{"map get", "print the SETTINGS document an edge runs", runMapGet},
	{"map rollback", "restore the map an edge ran before its last push", runMapRollback},
	{"fleet ls", "list the edges the hub knows, with their health", runFleetLs},
	{"fleet status", "show one edge's health (the hub's record, or --live from the edge)", runFleetStatus},
	{"edge read", "read and decode values through an edge (like modbus read)", runEdgeRead},
	{"edge write", "write a writable variable through an edge (like modbus write)", runEdgeWrite},
	{"edge config", "print an edge's running config, secrets redacted", runEdgeConfig},
	{"hub streams", "show each edge's ingest backlog and dead letters on the hub (JetStream)", runHubStreams},
	{"federation ls", "list the hub's federation peers: link, changes, lag per imported layer, last error (REST)", runFederationLs},
	{"export", "stream a collection's history from the hub as CSV (REST, format=csv)", runExport},
}

// errUsage marks an error whose usage text was already printed.
var errUsage = errors.New("usage")

// errQuiet marks a failure whose output already said everything (e.g. a
// --json document): Main exits with ExitFailure without printing it.
var errQuiet = errors.New("failed")

// Main runs the command line args (without the program name) and returns the exit code.
func Main(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		usage(env.Stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(env.Stdout, version.Full("gridedge"))
		return ExitOK
	}
	cmd, rest := find(args)
	if cmd == nil {
		fmt.Fprintf(env.Stderr, "gridedge: unknown command %q (see gridedge --help)\n", strings.Join(args[:min(2, len(args))], " "))
		return ExitUsage
	}
	err := cmd.run(ctx, env, rest)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errUsage):
		return ExitUsage
	case errors.Is(err, errQuiet) && !errors.Is(err, errPartial):
		if err != errQuiet {
			fmt.Fprintf(env.Stderr, "gridedge %s: %v\n", cmd.name, err)
		}
		return ExitFailure
	case errors.Is(err, errPartial):
		fmt.Fprintf(env.Stderr, "gridedge %s: %v\n", cmd.name, err)
		return ExitPartial
	default:
		fmt.Fprintf(env.Stderr, "gridedge %s: %v\n", cmd.name, err)
		return ExitFailure
	}
}

func find(args []string) (*command, []string) {
	if len(args) >= 2 {
		for i := range commands {
			if commands[i].name == args[0]+" "+args[1] {
				return &commands[i], args[2:]
			}
		}
	}
	for i := range commands {
		if commands[i].name == args[0] {
			return &commands[i], args[1:]
		}
	}
	return nil, nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "gridedge — operate GridEdge edges and hubs, and simulate Modbus devices.\n\nUsage: gridedge <command> [flags]\n\nCommands:\n")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'gridedge <command> --help' for the flags of a command.\n")
	fmt.Fprintf(w, "Exit codes: 0 done, 1 failed, 2 usage error, 3 partial fleet failure (docs/cli.md).\n")
}

// newFlags returns a flag set that prints its usage to env.Stderr.
func newFlags(env Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("gridedge "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: gridedge %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func runVersion(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "version", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, version.Full("gridedge"))
	return nil
}
