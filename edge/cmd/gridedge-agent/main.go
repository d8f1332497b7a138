// Command gridedge-agent is the GridEdge edge agent: it polls Modbus devices,
// buffers every reading and forwards it to the hub over a NATS leaf node.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gridedge/gridedge/edge/agent"
	"github.com/gridedge/gridedge/shared/logging"
	"github.com/gridedge/gridedge/shared/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gridedge-agent:", err)
		os.Exit(1)
	}
}

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
	// SIGHUP re-reads the config file and reloads what can change live
	reloads := make(chan *agent.Config)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				c, err := agent.Load(*cfgPath)
				if err != nil {
					log.Error("SIGHUP: config not reloaded", "err", err)
					continue
				}
				select {
				case reloads <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return agent.Run(ctx, cfg, log, reloads)
}
