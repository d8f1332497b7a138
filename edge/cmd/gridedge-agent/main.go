// Command gridedge-agent is the GridEdge edge agent: it polls Modbus devices,
// buffers every reading and forwards it to the hub over a NATS leaf node.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gridedge/gridedge/edge/agent"
	"github.com/gridedge/gridedge/shared/command"
	"github.com/gridedge/gridedge/shared/logging"
	"github.com/gridedge/gridedge/shared/sdnotify"
	"github.com/gridedge/gridedge/shared/version"
)

func main() { command.Main("gridedge-agent", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gridedge-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "agent config file, JSON or YAML (required)")
	check := fs.Bool("check-config", false, "load and validate the config, then exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	logJSON := fs.Bool("log-json", false, "log in JSON instead of text")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gridedge-agent --config FILE [--check-config] [--log-json]\n\nThe GridEdge edge agent. See docs/configuration.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Full("gridedge-agent"))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if *cfgPath == "" {
		return errors.New("--config is required (see --help)")
	}
	cfg, err := agent.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintf(stdout, "config %s is valid: edge %s, %d slaves\n", *cfgPath, cfg.Edge.ID, len(cfg.Settings.ModbusSlaves))
		return nil
	}
	lvl, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	log := logging.New(stderr, lvl, *logJSON)
	sd, err := sdnotify.FromEnv()
	if err != nil {
		return err
	}
	// SIGHUP re-reads the config file and reloads what can change live
	reloads := command.Reloads(ctx, log, func() (*agent.Config, error) { return agent.Load(*cfgPath) })
	// under systemd (Type=notify): ready once started, watchdog fed while
	// the agent can report its status (its buffer answers; a compaction
	// may keep it busy for minutes)
	return agent.Run(ctx, cfg, log, reloads, func(ctx context.Context, a *agent.Agent) {
		health := sdnotify.NewPatient(func() error { _, err := a.Status(); return err }, 10*time.Minute)
		defer health.Wait()
		sd.Serve(ctx, log, health.Health)
	})
}
