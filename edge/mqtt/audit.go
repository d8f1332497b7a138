package mqtt

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Results of a write attempt in the audit trail.
const (
	// ResultOK: written and verified.
	ResultOK = "ok"
	// ResultRefused: refused before anything was written (see CheckWrite,
	// ErrMessageRefused, ErrBadMessage, ErrBusy).
	ResultRefused = "refused"
	// ResultFailed: the device write, or its verification, failed.
	ResultFailed = "failed"
	// ResultSkipped: not attempted after an earlier write of the command failed.
	ResultSkipped = "skipped"
)

// AuditEntry records one write attempt.
type AuditEntry struct {
	// Time is when the attempt ended.
	Time time.Time `json:"time"`
	// Source says who asked: "mqtt:<topic>" for MQTT commands, or what the
	// caller of Bridge.Apply passed.
	Source string `json:"source"`
	// Slave is the index of the slave in SETTINGS modbusSlaves (-1 when the
	// command could not be tied to a slave).
	Slave int `json:"slave"`
	// SlaveID is the slave's Modbus unit id.
	SlaveID int `json:"slaveId"`
	// Variable is the variable's name ("" for a payload that could not be parsed).
	Variable string `json:"variable"`
	// Value is the value requested, as received.
	Value any `json:"value"`
	// Old is the variable's value read just before the write (nil when not read).
	Old any `json:"old"`
	// New is the value read back after the write (nil when not read).
	New any `json:"new"`
	// Result is ResultOK, ResultRefused, ResultFailed or ResultSkipped.
	Result string `json:"result"`
	// Error is the reason when Result is not ResultOK.
	Error string `json:"error,omitempty"`
}

// audit is the bounded ring of entries plus the optional JSON-lines file.
type audit struct {
	log  *slog.Logger
	file string

	mu    sync.Mutex
	ring  []AuditEntry
	next  int   // index of the slot to write next once the ring is full
	fileE error // last file error, logged once per change
}

func newAudit(size int, file string, log *slog.Logger) *audit {
	return &audit{log: log, file: file, ring: make([]AuditEntry, 0, size)}
}

// add records e: slog at Info, the ring, the file.
func (a *audit) add(e AuditEntry) {
	e.Value, e.Old, e.New = jsonSafe(e.Value), jsonSafe(e.Old), jsonSafe(e.New)
	a.log.Info("modbus write", "source", e.Source, "slave", e.Slave, "slave_id", e.SlaveID,
		"variable", e.Variable, "value", e.Value, "old", e.Old, "new", e.New, "result", e.Result, "err", e.Error)
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := cap(a.ring); c > 0 {
		if len(a.ring) < c {
			a.ring = append(a.ring, e)
		} else {
			a.ring[a.next] = e
			a.next = (a.next + 1) % c
		}
	}
	if a.file != "" {
		err := appendJSONLine(a.file, e)
		if err != nil && (a.fileE == nil || a.fileE.Error() != err.Error()) {
			a.log.Error("audit file not written", "file", a.file, "err", err)
		}
		a.fileE = err
	}
}

// entries returns the ring, oldest first.
func (a *audit) entries() []AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AuditEntry, 0, len(a.ring))
	out = append(out, a.ring[a.next:]...)
	return append(out, a.ring[:a.next]...)
}

func appendJSONLine(name string, e AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("append to audit file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close audit file: %w", err)
	}
	return nil
}

// jsonSafe makes a value encodable: non-finite floats become nil, anything
// encoding/json refuses becomes its fmt text.
func jsonSafe(v any) any {
	v = jsonValue(v)
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}
