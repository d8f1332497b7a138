// Package command holds what every GridEdge daemon's main does the same way:
// a context cancelled by SIGINT/SIGTERM, exit codes and error output, and
// config reloads on SIGHUP. A main stays a few lines: it parses its flags and
// loads its config in a run function and hands that to [Main].
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is a command's body: it parses args, writes to stdout and stderr,
// and returns when ctx is done or it has finished. flag.ErrHelp means the
// usage was printed on request.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments and standard streams under a
// context that SIGINT and SIGTERM cancel. It exits with status 1 after
// printing "name: error" on stderr when run fails, and returns otherwise
// (also after --help).
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code := ExitCode(name, err, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// ExitCode is the process status for run's result: 0 for success and for
// flag.ErrHelp, otherwise 1 after writing "name: error" to stderr.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// Reloads delivers a freshly loaded config every time the process receives
// SIGHUP, until ctx is done. A config that does not load is logged and not
// delivered, so the running one stays. The channel is unbuffered: a reload
// waits until the daemon takes it.
func Reloads[T any](ctx context.Context, log *slog.Logger, load func() (T, error)) <-chan T {
	out := make(chan T)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				c, err := load()
				if err != nil {
					log.Error("SIGHUP: config not reloaded", "err", err)
					continue
				}
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
