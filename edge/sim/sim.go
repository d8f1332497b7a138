// Package sim animates a simulated Modbus device image from a SETTINGS
// document: every slave of the document becomes a unit id of one in-memory
// device whose variables change over time (a per-second counter, smooth
// waveforms with plausible magnitudes, toggling bits, cycling translated
// states). A variable written by a client, or set with Set, is pinned: it
// keeps the written value instead of being animated.
//
// A register variable named "pollCount" counts reads instead: every read
// request that covers it increments it first, so each poll sees the next
// number. Tests compare the numbers served with what reached the hub.
package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
)

// Simulator animates a Memory.
type Simulator struct {
	mem   *modbus.Memory
	vars  []simVar
	start time.Time
	log   *slog.Logger

	mu     sync.Mutex
	pinned map[int]bool
	polls  map[int]uint64 // poll counters by variable index
}

type simVar struct {
	unit  byte
	order string
	v     settings.Variable
	idx   int // index within its map, varies the waveforms
}

// New builds a simulator for every slave of s.
func New(s *settings.Settings, log *slog.Logger) *Simulator {
	if log == nil {
		log = slog.Default()
	}
	sim := &Simulator{mem: modbus.NewMemory(), start: time.Now(), log: log, pinned: map[int]bool{}, polls: map[int]uint64{}}
	seen := map[string]bool{}
	for _, sl := range s.ModbusSlaves {
		key := fmt.Sprintf("%d/%s", sl.SlaveID, sl.Map)
		if seen[key] {
			continue
		}
		seen[key] = true
		for i, v := range s.ModbusMaps[sl.Map] {
			if v.Datatype == settings.DatatypeIgnore {
				continue
			}
			sim.vars = append(sim.vars, simVar{unit: byte(sl.SlaveID), order: sl.Order, v: v, idx: i})
		}
	}
	sim.mem.OnWrite(sim.onWrite)
	sim.Step(sim.start)
	return sim
}

// Memory is the device image.
func (s *Simulator) Memory() *modbus.Memory { return s.mem }

// PollCountName is the name of the variable that counts polls.
const PollCountName = "pollCount"

// Handler is what to serve: the device image, with poll counters
// incremented by every read that covers them.
func (s *Simulator) Handler() modbus.Handler {
	return modbus.HandlerFunc(func(ctx context.Context, unit byte, req modbus.PDU) (modbus.PDU, error) {
		if req.Function == modbus.FuncReadHoldingRegisters || req.Function == modbus.FuncReadInputRegisters {
			if addr, qty, err := modbus.ParseReadRequest(req); err == nil {
				s.countPoll(unit, req.Function, addr, qty)
			}
		}
		return s.mem.HandleModbus(ctx, unit, req)
	})
}

func (s *Simulator) countPoll(unit, fn byte, addr, qty uint16) {
	table := modbus.InputRegisters
	if fn == modbus.FuncReadHoldingRegisters {
		table = modbus.HoldingRegisters
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.vars {
		sv := &s.vars[i]
		if sv.unit != unit || sv.v.Name != PollCountName || tableOf(sv.v.Type) != table {
			continue
		}
		start, n := int(sv.v.Address.Register), sv.v.RegisterCount()
		if start < int(addr) || start+n > int(addr)+int(qty) {
			continue
		}
		s.polls[i]++
		if err := s.write(sv, float64(s.polls[i])); err != nil {
			s.log.Warn("sim: pollCount cannot hold the next value", "err", err)
		}
	}
}

func tableOf(t string) modbus.Table {
	switch t {
	case settings.TypeHolding:
		return modbus.HoldingRegisters
	case settings.TypeInput:
		return modbus.InputRegisters
	case settings.TypeCoil:
		return modbus.Coils
	default:
		return modbus.DiscreteInputs
	}
}

// onWrite pins every variable a client wrote to.
func (s *Simulator) onWrite(unit byte, table modbus.Table, addr, qty uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sv := range s.vars {
		start, n := int(sv.v.Address.Register), sv.v.RegisterCount()
		if sv.unit == unit && tableOf(sv.v.Type) == table && start < int(addr)+int(qty) && int(addr) < start+n {
			s.pinned[i] = true
		}
	}
}

// Set writes an engineering value to the named variable of a unit and pins it.
func (s *Simulator) Set(unit byte, name string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sv := range s.vars {
		if sv.unit == unit && sv.v.Name == name {
			if err := s.write(&sv, value); err != nil {
				return fmt.Errorf("sim: set %s of unit %d: %w", name, unit, err)
			}
			s.pinned[i] = true
			return nil
		}
	}
	return fmt.Errorf("sim: unit %d has no variable %q", unit, name)
}

func (s *Simulator) write(sv *simVar, value any) error {
	t := tableOf(sv.v.Type)
	if t == modbus.Coils || t == modbus.DiscreteInputs {
		if sv.v.Datatype == settings.DatatypeBits && sv.v.RegisterCount() > 1 {
			bits, err := codec.EncodeBits(&sv.v, value)
			if err != nil {
				return err
			}
			s.mem.SetBits(sv.unit, t, sv.v.Address.Register, bits...)
			return nil
		}
		b, err := codec.EncodeBit(&sv.v, value)
		if err != nil {
			return err
		}
		s.mem.SetBits(sv.unit, t, sv.v.Address.Register, b)
		return nil
	}
	regs, mask, err := codec.EncodeMasked(&sv.v, sv.order, value)
	if err != nil {
		return err
	}
	if mask != nil {
		cur := s.mem.Registers(sv.unit, t, sv.v.Address.Register, uint16(len(regs)))
		for i := range regs {
			regs[i] = cur[i]&^mask[i] | regs[i]&mask[i]
		}
	}
	s.mem.SetRegisters(sv.unit, t, sv.v.Address.Register, regs...)
	return nil
}

// Step sets every unpinned variable to its value at time now.
func (s *Simulator) Step(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now.Sub(s.start).Seconds()
	for i := range s.vars {
		if s.pinned[i] || s.vars[i].v.Name == PollCountName {
			continue
		}
		sv := &s.vars[i]
		val := s.valueAt(sv, t)
		if err := s.write(sv, val); err != nil {
			s.log.Debug("sim: cannot represent value", "var", sv.v.Name, "value", val, "err", err)
		}
	}
}

// Run steps the simulation every interval until ctx is done.
func (s *Simulator) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.Step(now)
		}
	}
}

// valueAt returns the animated engineering value of a variable at t seconds.
func (s *Simulator) valueAt(sv *simVar, t float64) any {
	v := &sv.v
	name := strings.ToLower(v.Name)
	switch {
	case v.Datatype == settings.DatatypeString:
		return "GRIDEDGE-SIM"
	case v.Type == settings.TypeCoil || v.Type == settings.TypeDiscrete || v.Datatype == settings.DatatypeBool || v.Address.HasBit:
		if v.Datatype == settings.DatatypeBits && v.RegisterCount() > 1 {
			bits := make([]bool, v.RegisterCount())
			for j := range bits {
				bits[j] = (int(t)>>j)&1 == 1
			}
			return bits
		}
		return int(t/float64(sv.idx+2))%2 == 1
	case v.Datatype == settings.DatatypeBits:
		return float64(int(t) & 0xFFFF)
	case len(v.Translation) > 0:
		return v.Translation[int(t/10)%len(v.Translation)].Label
	case strings.Contains(name, "counter") || strings.Contains(name, "count"):
		return s.representable(v, math.Floor(t))
	case strings.Contains(name, "energy"):
		return s.representable(v, 1000+t*0.5)
	}
	base, amp := 100.0, 50.0
	switch {
	case strings.Contains(name, "volt"):
		base, amp = 230, 3
	case strings.Contains(name, "freq"):
		base, amp = 50, 0.05
	case strings.Contains(name, "temp"):
		base, amp = 21, 2
	case strings.Contains(name, "power"):
		base, amp = 1500, 500
	case strings.Contains(name, "current"):
		base, amp = 6.5, 1.5
	case strings.Contains(name, "lum"):
		base, amp = 400, 300
	}
	period := 30 + 7*float64(sv.idx)
	return s.representable(v, base+amp*math.Sin(2*math.Pi*t/period))
}

// representable rounds x to a value the variable's datatype and factor can
// hold, clamped to its range.
func (s *Simulator) representable(v *settings.Variable, x float64) float64 {
	factor, offset := 1.0, 0.0
	if v.Factor != nil {
		factor = *v.Factor
	}
	if v.Offset != nil {
		offset = *v.Offset
	}
	raw := (x - offset) / factor
	lo, hi, integer := rangeOf(v.Datatype)
	if integer {
		raw = math.Round(raw)
	}
	raw = math.Max(lo, math.Min(hi, raw))
	return raw*factor + offset
}

func rangeOf(dt string) (lo, hi float64, integer bool) {
	switch dt {
	case settings.Datatype8Int:
		return -128, 127, true
	case settings.Datatype8Uint:
		return 0, 255, true
	case settings.Datatype16Int:
		return -32768, 32767, true
	case settings.Datatype16Uint, settings.DatatypeBits:
		return 0, 65535, true
	case settings.Datatype32Int:
		return math.MinInt32, math.MaxInt32, true
	case settings.Datatype32Uint:
		return 0, math.MaxUint32, true
	case settings.Datatype48Int:
		return -(1 << 47), 1<<47 - 1, true
	case settings.Datatype48Uint:
		return 0, 1<<48 - 1, true
	case settings.Datatype64Int:
		return -(1 << 53), 1 << 53, true
	case settings.Datatype64Uint:
		return 0, 1 << 53, true
	case settings.Datatype16BCD:
		return 0, 9999, true
	case settings.Datatype32BCD:
		return 0, 99999999, true
	case settings.Datatype16Float:
		return -65504, 65504, false
	}
	return -math.MaxFloat64, math.MaxFloat64, false
}
