package command

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     int
		wantText string
	}{
		{"success", nil, 0, ""},
		{"help", fmt.Errorf("parse: %w", flag.ErrHelp), 0, ""},
		{"failure", errors.New("config x.yaml: edge.id is empty"), 1, "gridedge-agent: config x.yaml: edge.id is empty\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := ExitCode("gridedge-agent", tt.err, &out); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
			if out.String() != tt.wantText {
				t.Errorf("stderr = %q, want %q", out.String(), tt.wantText)
			}
		})
	}
}

func TestReloadsOnSIGHUP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loads := 0
	ch := Reloads(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func() (int, error) {
		loads++
		if loads == 1 {
			return 0, errors.New("bad config")
		}
		return loads, nil
	})
	// the first load fails and is not delivered; the second is
	for i := 0; i < 2; i++ {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case got := <-ch:
		if got != 2 {
			t.Errorf("delivered config %d, want 2 (the first load failed)", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no config delivered after SIGHUP")
	}
}
