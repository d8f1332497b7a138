package poller

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

// RunUntil stops between cycles when stop closes, and OnCycle sees every
// cycle's outcome: nil for a good cycle, the error of one that failed.
func TestRunUntilStopsBetweenCyclesAndReportsCycles(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21, 5, 3)
	mem.Restrict(1, modbus.HoldingRegisters, modbus.Range{Start: 0, Count: 100})
	c, _ := serve(t, mem)
	var mu sync.Mutex
	var outcomes []error
	var stored int
	bad := append([]settings.Variable{}, panasonic...)
	bad = append(bad, settings.Variable{Name: "far", Type: "holding", Address: settings.Address{Register: 60000}, Datatype: "16uint"})
	for _, tc := range []struct {
		name    string
		vars    []settings.Variable
		wantErr bool
	}{
		{"good map", panasonic, false},
		{"map with an address the device refuses", bad, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			outcomes, stored = nil, 0
			mu.Unlock()
			p := New(c, Options{Name: "t", Slave: &settings.Slave{SlaveID: 1}, Vars: tc.vars,
				Document: settings.Document{Layer: "l", Collection: "c", ID: "A"}, Period: 20 * time.Millisecond,
				MaxBackoff: 20 * time.Millisecond, Logger: quiet,
				Sink: func(context.Context, []model.Update) error {
					mu.Lock()
					stored++
					mu.Unlock()
					return nil
				},
				OnCycle: func(err error) {
					mu.Lock()
					outcomes = append(outcomes, err)
					mu.Unlock()
				}})
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { defer close(done); _ = p.RunUntil(context.Background(), stop) }()
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := len(outcomes)
				mu.Unlock()
				if n >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("got %d cycles in 5s, want 3", n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			close(stop)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("RunUntil did not return after stop")
			}
			mu.Lock()
			defer mu.Unlock()
			for i, err := range outcomes {
				if (err != nil) != tc.wantErr {
					t.Errorf("cycle %d: got error %v, want error: %v", i, err, tc.wantErr)
				}
			}
			if stored == 0 {
				t.Error("no readings reached the sink")
			}
		})
	}
}
