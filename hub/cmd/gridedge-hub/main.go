// Command gridedge-hub is the GridEdge hub: the layer/collection store, the
// REST API, and the NATS server edges connect to as leaf nodes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gridedge/gridedge/hub/daemon"
	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/shared/command"
	"github.com/gridedge/gridedge/shared/logging"
	"github.com/gridedge/gridedge/shared/sdnotify"
	"github.com/gridedge/gridedge/shared/version"
)

func main() { command.Main("gridedge-hub", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gridedge-hub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "hub config file, JSON or YAML (default: built-in defaults)")
	check := fs.Bool("check-config", false, "load and validate the config, then exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	httpAddr := fs.String("http", "", "REST API listen address or off (overrides http.listen; default 127.0.0.1:8080)")
	natsAddr := fs.String("nats", "", "NATS client listen address or off (overrides nats.listen; default 127.0.0.1:4222)")
	leafAddr := fs.String("leaf", "", "leaf-node listen address or off (overrides nats.leafListen; default :7422)")
	dataDir := fs.String("data", "", "data directory (overrides dataDir; default ./data/hub)")
	logJSON := fs.Bool("log-json", false, "log in JSON instead of text")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gridedge-hub [--config FILE] [flags]\n\nThe GridEdge hub. See docs/configuration.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Full("gridedge-hub"))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	cfg, err := daemon.Load(*cfgPath)
	if err != nil {
		return err
	}
	cfg.HTTP.Listen = listen.Addr(*httpAddr).Or(cfg.HTTP.Listen)
	cfg.NATS.Listen = listen.Addr(*natsAddr).Or(cfg.NATS.Listen)
	cfg.NATS.LeafListen = listen.Addr(*leafAddr).Or(cfg.NATS.LeafListen)
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config with the flags applied: %w", err)
	}
	if *check {
		fmt.Fprintf(stdout, "config %s is valid: domain %s, %d edges, %d layers\n", *cfgPath, cfg.Domain, len(cfg.Edges), len(cfg.Layers))
		return nil
	}
	lvl, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	sd, err := sdnotify.FromEnv()
	if err != nil {
		return err
	}
	log := logging.New(stderr, lvl, *logJSON)
	daemon.ApplyGCPercent(cfg, log)
	h, err := daemon.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer h.Close()
	// under systemd (Type=notify): ready once started, watchdog fed while
	// the store answers (a store call that ignores its context stalls only
	// the check, not the notifications)
	var wg sync.WaitGroup
	defer wg.Wait()
	nctx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() {
		health := sdnotify.NewPatient(func() error { return storeAnswers(nctx, h) }, 2*time.Minute)
		defer health.Wait()
		sd.Serve(nctx, log, health.Health)
	})
	select {
	case <-ctx.Done():
		log.Info("hub stopping")
		return nil
	case err := <-h.Err():
		return err
	}
}

// storeAnswers is the hub's health for the systemd watchdog: its store lists
// the layers within a few seconds.
func storeAnswers(ctx context.Context, h *daemon.Hub) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := h.Store().Layers(ctx); err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	return nil
}
