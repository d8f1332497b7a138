package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
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
	each := fs.Bool("each-endpoint", false, "serve every Modbus TCP slave at the ip:port the SETTINGS file gives it, "+
		"each endpoint a device of its own (own image and poll counters), instead of all slaves on --listen")
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
	if *each {
		return serveEndpoints(ctx, s, *interval, log)
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

// serveEndpoints serves every Modbus TCP (or RTU over TCP) slave of s at its
// own ip:port until ctx is done. Each endpoint gets its own simulator built
// from the slaves behind it, so devices at different endpoints never share
// registers or poll counters, as on a site with many networked devices.
func serveEndpoints(ctx context.Context, s *settings.Settings, interval time.Duration, log *slog.Logger) error {
	byURL := map[string][]settings.Slave{}
	var urls []string
	for _, sl := range s.ModbusSlaves {
		if sl.IP == "" {
			continue // a serial slave has no TCP endpoint
		}
		scheme, port := "tcp", sl.Port
		if sl.Protocol == "rtuovertcp" {
			scheme = "rtuovertcp"
		}
		if port == 0 {
			port = 502
		}
		u := scheme + "://" + net.JoinHostPort(sl.IP, strconv.Itoa(port))
		if byURL[u] == nil {
			urls = append(urls, u)
		}
		byURL[u] = append(byURL[u], sl)
	}
	if len(urls) == 0 {
		return errors.New("--each-endpoint: the SETTINGS file has no slave with an ip")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(urls))
	var wg sync.WaitGroup
	for _, u := range urls {
		sub := *s
		sub.ModbusSlaves = byURL[u]
		sm := sim.New(&sub, log)
		srv := &modbus.Server{Handler: sm.Handler(), Logger: log}
		wg.Go(func() { sm.Run(ctx, interval) })
		wg.Go(func() {
			if err := srv.ListenAndServe(ctx, u); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("simulate devices at %s: %w", u, err)
				cancel()
			}
		})
	}
	log.Info("simulating Modbus devices, one endpoint each", "endpoints", len(urls), "slaves", len(s.ModbusSlaves))
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
