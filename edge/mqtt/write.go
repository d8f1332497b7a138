package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
)

// Errors of write commands. Encoding errors come from the codec package
// (codec.ErrRange, ErrNotIntegral, ErrUnknownLabel, ErrValueType,
// ErrDatatype), wrapped.
var (
	// ErrUnknownVariable means the command names a variable that is not in
	// the slave's map.
	ErrUnknownVariable = errors.New("unknown variable")
	// ErrReadOnly means the variable lives in a read-only table (input
	// registers or discrete inputs).
	ErrReadOnly = errors.New("variable is read-only")
	// ErrNotWritable means the variable's map entry does not say
	// "writable": true.
	ErrNotWritable = errors.New("variable is not writable")
	// ErrNoBounds means a writable numeric variable lacks min or max in its
	// map entry (settings.Load refuses such maps; settings built otherwise
	// are refused here, at write time).
	ErrNoBounds = errors.New("write bounds missing")
	// ErrOutOfBounds means the value is outside the variable's min/max.
	ErrOutOfBounds = errors.New("value out of bounds")
	// ErrRateLimited means the write would exceed the variable's or the
	// bus's write rate limit (Options.WriteLimits).
	ErrRateLimited = errors.New("write rate limit exceeded")
	// ErrBadMessage means a command payload is not a JSON object of
	// variable values.
	ErrBadMessage = errors.New("malformed command")
	// ErrMessageRefused is reported for the variables of a command that were
	// acceptable themselves but not written because another one was refused.
	ErrMessageRefused = errors.New("not written: another variable of the command was refused")
	// ErrSkipped is reported for the variables of a command that were not
	// attempted because an earlier write of the same command failed.
	ErrSkipped = errors.New("not attempted: an earlier write of the command failed")
	// ErrVerify means the registers or coils read back after a write differ
	// from what was written.
	ErrVerify = errors.New("read-back verification failed")
	// ErrBusy means the command queue was full and the command was dropped.
	ErrBusy = errors.New("command queue full")
	// ErrSlave means the slave index is not one of the SETTINGS slaves.
	ErrSlave = errors.New("no such slave")
)

// Writer writes one variable of one slave. slave is the index of the slave
// in the SETTINGS modbusSlaves; v is an entry of its map; value is the
// engineering value (a translation label, a number — json.Number included —,
// a bool, a string, or []any of bools for bits). It returns the variable's
// value before and after the write, decoded as the poller decodes it.
// [DeviceWriter] is the Modbus implementation.
type Writer interface {
	Write(ctx context.Context, slave int, v *settings.Variable, value any) (old, new any, err error)
}

// Device is what a write needs of a Modbus client; *modbus.Client
// implements it.
type Device interface {
	ReadCoils(ctx context.Context, unit byte, addr, qty uint16) ([]bool, error)
	ReadHoldingRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error)
	WriteSingleCoil(ctx context.Context, unit byte, addr uint16, v bool) error
	WriteSingleRegister(ctx context.Context, unit byte, addr, v uint16) error
	WriteMultipleCoils(ctx context.Context, unit byte, addr uint16, vs []bool) error
	WriteMultipleRegisters(ctx context.Context, unit byte, addr uint16, vs []uint16) error
}

var _ Device = (*modbus.Client)(nil)

// Bus gives a write exclusive, prioritised use of a slave's device. It runs
// fn with the Device of slave (its index in SETTINGS modbusSlaves) and must:
//
//   - hold the bus (the client every slave on the same serial port or TCP
//     host shares) for the whole of fn, so that no poll request goes between
//     the read of the current value, the write and the read-back;
//   - let fn have the bus before any poll waiting for it (writes go first in
//     their bus's queue);
//   - give up waiting when ctx is done and return ctx's error.
//
// It returns fn's error unchanged (wrapping is fine). The agent implements it
// with its per-bus scheduler; a test can use
// func(ctx, _ int, fn ...) error { return fn(ctx, client) }.
type Bus func(ctx context.Context, slave int, fn func(ctx context.Context, dev Device) error) error

// DeviceWriter is the Modbus Writer: it checks the value ([CheckWrite]),
// then, holding the slave's bus, reads the variable's current registers
// (holding) or coils, writes the new ones — merging them into the current
// registers for variables that cover only part of them (8-bit types, bit
// addresses, shift, mask) — reads them back and verifies that every bit it
// meant to set reads as written ([ErrVerify] otherwise).
type DeviceWriter struct {
	s   *settings.Settings
	bus Bus
}

var _ Writer = (*DeviceWriter)(nil)

// NewDeviceWriter returns the Modbus Writer for the slaves of s, reaching
// devices through bus.
func NewDeviceWriter(s *settings.Settings, bus Bus) *DeviceWriter {
	return &DeviceWriter{s: s, bus: bus}
}

// Write implements Writer.
func (w *DeviceWriter) Write(ctx context.Context, slave int, v *settings.Variable, value any) (old, new any, err error) {
	if err := CheckWrite(w.s, slave, v, value); err != nil {
		return nil, nil, err
	}
	if w.bus == nil {
		return nil, nil, fmt.Errorf("write %s: no bus to reach the device", v.Name)
	}
	sl := &w.s.ModbusSlaves[slave]
	unit := byte(sl.SlaveID)
	err = w.bus(ctx, slave, func(ctx context.Context, dev Device) error {
		var err error
		if v.Type == settings.TypeCoil {
			old, new, err = writeCoils(ctx, dev, unit, v, value)
		} else {
			old, new, err = writeRegisters(ctx, dev, unit, sl.Order, v, value)
		}
		return err
	})
	if err != nil {
		return old, new, fmt.Errorf("write %s (%s %s) of unit %d: %w", v.Name, v.Type, v.Address, unit, err)
	}
	return old, new, nil
}

func writeRegisters(ctx context.Context, dev Device, unit byte, order string, v *settings.Variable, value any) (old, new any, err error) {
	regs, mask, err := codec.EncodeMasked(v, order, value)
	if err != nil {
		return nil, nil, err
	}
	addr, n := v.Address.Register, uint16(len(regs))
	cur, err := dev.ReadHoldingRegisters(ctx, unit, addr, n)
	if err != nil {
		return nil, nil, fmt.Errorf("read current value: %w", err)
	}
	old, _ = codec.Decode(v, order, cur) // an undecodable old value does not stop the write
	out := codec.Merge(cur, regs, mask)
	if n == 1 {
		err = dev.WriteSingleRegister(ctx, unit, addr, out[0])
	} else {
		err = dev.WriteMultipleRegisters(ctx, unit, addr, out)
	}
	if err != nil {
		return old, nil, err
	}
	back, err := dev.ReadHoldingRegisters(ctx, unit, addr, n)
	if err != nil {
		return old, nil, fmt.Errorf("read back: %w", err)
	}
	new, _ = codec.Decode(v, order, back)
	for i := range back {
		if back[i]&mask[i] != out[i]&mask[i] {
			return old, new, fmt.Errorf("%w: register %d reads 0x%04X, wrote 0x%04X (mask 0x%04X)",
				ErrVerify, int(addr)+i, back[i], out[i], mask[i])
		}
	}
	return old, new, nil
}

func writeCoils(ctx context.Context, dev Device, unit byte, v *settings.Variable, value any) (old, new any, err error) {
	bits, err := codec.EncodeBits(v, value)
	if err != nil {
		return nil, nil, err
	}
	addr, n := v.Address.Register, uint16(len(bits))
	cur, err := dev.ReadCoils(ctx, unit, addr, n)
	if err != nil {
		return nil, nil, fmt.Errorf("read current value: %w", err)
	}
	old, _ = codec.DecodeBits(v, cur)
	if n == 1 {
		err = dev.WriteSingleCoil(ctx, unit, addr, bits[0])
	} else {
		err = dev.WriteMultipleCoils(ctx, unit, addr, bits)
	}
	if err != nil {
		return old, nil, err
	}
	back, err := dev.ReadCoils(ctx, unit, addr, n)
	if err != nil {
		return old, nil, fmt.Errorf("read back: %w", err)
	}
	new, _ = codec.DecodeBits(v, back)
	for i := range back {
		if back[i] != bits[i] {
			return old, new, fmt.Errorf("%w: coil %d reads %t, wrote %t", ErrVerify, int(addr)+i, back[i], bits[i])
		}
	}
	return old, new, nil
}

// CheckWrite reports whether value may be written to variable v of slave
// (its index in s.ModbusSlaves), without touching the device: the table
// must be holding or coil, the entry must say "writable": true, a numeric
// variable (settings.Variable.NeedsWriteBounds) must have both min and max,
// the datatype must hold the value (encoded as DeviceWriter would), and a
// numeric engineering value (a translation label counts as its number, a
// bool as 0 or 1) must lie within the entry's min and max. It does not
// apply the rate limits: Bridge.Apply does.
func CheckWrite(s *settings.Settings, slave int, v *settings.Variable, value any) error {
	if slave < 0 || slave >= len(s.ModbusSlaves) {
		return fmt.Errorf("%w: slave %d (have %d)", ErrSlave, slave, len(s.ModbusSlaves))
	}
	switch v.Type {
	case settings.TypeHolding, settings.TypeCoil:
	case settings.TypeInput, settings.TypeDiscrete:
		return fmt.Errorf("%s: %w (%s table)", v.Name, ErrReadOnly, v.Type)
	default:
		return fmt.Errorf("%s: %w (unknown table %q)", v.Name, ErrReadOnly, v.Type)
	}
	if !v.IsWritable() {
		return fmt.Errorf("%s: %w (its map entry does not say \"writable\": true)", v.Name, ErrNotWritable)
	}
	bounded := v.NeedsWriteBounds()
	if bounded && (v.Min == nil || v.Max == nil) {
		var missing []string
		if v.Min == nil {
			missing = append(missing, "min")
		}
		if v.Max == nil {
			missing = append(missing, "max")
		}
		return fmt.Errorf("%s: %w: a writable numeric variable needs both min and max, its map entry has no %s",
			v.Name, ErrNoBounds, strings.Join(missing, " and no "))
	}
	var err error
	if v.Type == settings.TypeCoil {
		_, err = codec.EncodeBits(v, value)
	} else {
		_, _, err = codec.EncodeMasked(v, s.ModbusSlaves[slave].Order, value)
	}
	if err != nil {
		return err // already names the variable
	}
	if v.Min == nil && v.Max == nil {
		return nil
	}
	f, ok := engineeringNumber(v, value)
	if !ok {
		if bounded {
			return fmt.Errorf("%s: value %v is not a number to check against min and max: %w", v.Name, value, ErrOutOfBounds)
		}
		return nil
	}
	if v.Min != nil && !(f >= *v.Min) {
		return fmt.Errorf("%s: value %v is below min %v: %w", v.Name, f, *v.Min, ErrOutOfBounds)
	}
	if v.Max != nil && !(f <= *v.Max) {
		return fmt.Errorf("%s: value %v is above max %v: %w", v.Name, f, *v.Max, ErrOutOfBounds)
	}
	return nil
}

// engineeringNumber returns the number value stands for: a translation
// label's raw value, a number, a numeric string, a bool as 0 or 1.
func engineeringNumber(v *settings.Variable, value any) (float64, bool) {
	if len(v.Translation) > 0 {
		if raw, ok := v.Translation.Reverse(value); ok {
			return raw, true
		}
	}
	switch x := value.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil || math.IsInf(f, 0)
	case string:
		if v.Datatype == settings.DatatypeString {
			return 0, false
		}
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
