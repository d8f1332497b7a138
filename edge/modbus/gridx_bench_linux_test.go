package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	gridx "github.com/grid-x/modbus"
)

// BenchmarkPeer puts our client and grid-x/modbus's client side by side:
// the same FC 3 read of 10 and 125 holding registers, against the same
// Server of ours, over loopback TCP and over RTU at 19200 baud 8E1 on a pty
// pair. A pty has no real baud rate: our client reads a response as soon
// as it is complete, while grid-x sleeps for the time the request and
// response would take on a real line before it reads. Sub-benchmarks are
// named transport/regs=N/client so the two clients print next to each
// other; ops/s is reported besides ns/op.
func BenchmarkPeer(b *testing.B) {
	mem := NewMemory()
	regs := make([]uint16, MaxReadRegisters)
	for i := range regs {
		regs[i] = uint16(i)
	}
	mem.SetRegisters(1, HoldingRegisters, 0, regs...)
	quiet := slog.New(slog.DiscardHandler)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen on loopback: %v", err)
	}
	tcpURL := serveOn(b, &Server{Handler: mem, Logger: quiet}, l)
	a, p := ptyPair(b)
	const serial = "?baud=19200&parity=E&databits=8&stopbits=1"
	listenAndServe(b, &Server{Handler: mem, Logger: quiet, Units: []byte{1}}, "rtu://"+a.path+serial)

	transports := []struct {
		name  string
		ours  string                     // our client's URL
		gridx func() gridx.ClientHandler // grid-x's handler for unit 1
	}{
		{"tcp", tcpURL, func() gridx.ClientHandler {
			h := gridx.NewTCPClientHandler(strings.TrimPrefix(tcpURL, "tcp://"))
			h.SlaveID, h.Timeout, h.IdleTimeout = 1, 2*time.Second, 0
			return h
		}},
		{"rtu", "rtu://" + p.path + serial, func() gridx.ClientHandler {
			h := gridx.NewRTUClientHandler(p.path)
			h.BaudRate, h.DataBits, h.Parity, h.StopBits = 19200, 8, "E", 1
			h.SlaveID, h.Timeout, h.IdleTimeout = 1, 2*time.Second, 0
			return h
		}},
	}
	ctx := context.Background()
	for _, tr := range transports {
		for _, qty := range []uint16{10, MaxReadRegisters} {
			b.Run(fmt.Sprintf("%s/regs=%d/gridedge", tr.name, qty), func(b *testing.B) {
				c, err := NewClient(tr.ours, ClientOptions{Timeout: 2 * time.Second, Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				benchPeerReads(b, qty, func() (uint16, error) {
					got, err := c.ReadHoldingRegisters(ctx, 1, 0, qty)
					if err != nil {
						return 0, err
					}
					return got[len(got)-1], nil
				})
			})
			b.Run(fmt.Sprintf("%s/regs=%d/gridx", tr.name, qty), func(b *testing.B) {
				h := tr.gridx()
				defer h.Close()
				c := gridx.NewClient(h)
				benchPeerReads(b, qty, func() (uint16, error) {
					got, err := c.ReadHoldingRegisters(0, qty)
					if err != nil {
						return 0, err
					}
					if len(got) != 2*int(qty) {
						return 0, fmt.Errorf("got %d bytes, want %d", len(got), 2*qty)
					}
					return uint16(got[len(got)-2])<<8 | uint16(got[len(got)-1]), nil
				})
			})
		}
	}
}

// benchPeerReads runs read, which returns the last register of a read of
// qty registers from 0 (holding register i is i), and reports ops/s.
func benchPeerReads(b *testing.B, qty uint16, read func() (uint16, error)) {
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		last, err := read()
		if err != nil {
			b.Fatalf("read %d registers: %v", qty, err)
		}
		if last != qty-1 {
			b.Fatalf("read %d registers: got last register %d, want %d", qty, last, qty-1)
		}
		ops++
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
}
