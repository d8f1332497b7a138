package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/edge/sim"
	"github.com/gridedge/gridedge/shared/logging"
)

func runSim(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "sim", "--settings FILE [--listen URL] [--interval D]")
	file := fs.String("settings", "", "X-FLEX SETTINGS file (JSON or YAML) whose slaves to simulate (required)")
	listen := fs.String("listen", "tcp://127.0.0.1:5020", "where to serve: tcp://host:port, rtuovertcp://host:port, "+
		"rtu:///dev/ttyUSB0?baud=19200&parity=E&databits=8&stopbits=1 (a serial device or pty) or ascii:///dev/...")
	interval := fs.Duration("interval", 100*time.Millisecond, "how often values change")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		fmt.Fprintln(env.Stderr, "--settings is required")
		fs.Usage()
		return errUsage
	}
	if *interval <= 0 {
		return errors.New("--interval must be positive")
	}
	lvl, err := logging.ParseLevel(*level)
	if err != nil {
		return err
	}
	log := logging.New(env.Stderr, lvl, false)
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	s, err := settings.Load(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	sm := sim.New(s, log)
	srv := &modbus.Server{Handler: sm.Handler(), Logger: log}
	go sm.Run(ctx, *interval)
	units := map[int]bool{}
	for _, sl := range s.ModbusSlaves {
		if !units[sl.SlaveID] && sl.SlaveID >= 0 && sl.SlaveID <= 255 {
			// On serial lines the simulated slaves answer only their own
			// addresses, as slaves sharing a bus must.
			srv.Units = append(srv.Units, byte(sl.SlaveID))
		}
		units[sl.SlaveID] = true
	}
	log.Info("simulating Modbus devices", "listen", *listen, "units", len(units), "settings", *file)
	if err := srv.ListenAndServe(ctx, *listen); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
