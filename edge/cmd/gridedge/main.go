// Command gridedge operates GridEdge edges and hubs and simulates Modbus devices.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gridedge/gridedge/edge/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
