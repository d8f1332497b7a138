package poller

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/settings"
)

// Protocol limits of one read request (Modbus application protocol v1.1b3,
// functions 1-4) and the default gap.
const (
	// MaxReadRegisters is the most registers one read (function 3 or 4) may ask for.
	MaxReadRegisters = 125
	// MaxReadBits is the most coils or discrete inputs one read (function 1 or 2) may ask for.
	MaxReadBits = 2000
	// DefaultMaxGap is the unused space Plan reads to join two variables
	// when PlanOptions.MaxGap is 0.
	DefaultMaxGap = 8
	// NoGap as PlanOptions.MaxGap allows only adjacent (or overlapping)
	// variables in one request.
	NoGap = -1
)

// PlanOptions tunes Plan. The zero value means the protocol limits and a gap of 8.
type PlanOptions struct {
	// MaxRegisters caps the span of a holding or input request (default
	// and maximum 125).
	MaxRegisters int
	// MaxBits caps the span of a coil or discrete request (default and
	// maximum 2000).
	MaxBits int
	// MaxGap is how many registers (or bits) not belonging to any variable
	// may lie between two consecutive variables of one request. 0 means the
	// default 8; NoGap (or any negative value) means none.
	MaxGap int
	// Split names addresses where a request must begin even though the
	// variable there could join the previous request: spans a device has
	// refused. After SplitRequest, record b.Key().
	Split map[SplitKey]bool
}

// SplitKey names the start of a request in one table.
type SplitKey struct {
	// Table is settings.TypeHolding, TypeInput, TypeCoil or TypeDiscrete.
	Table string
	// Start is the address the request begins at.
	Start uint16
}

// Request is one read: Count registers (or bits) of Table from Start.
type Request struct {
	// Table is settings.TypeHolding, TypeInput, TypeCoil or TypeDiscrete.
	Table string
	// Start is the first address read.
	Start uint16
	// Count is how many registers (or bits) are read.
	Count uint16
	// Vars are the indexes, into the slice given to Plan, of the variables
	// the request reads, in address order (ties in slice order). ignore
	// variables are never listed.
	Vars []int
}

// Key returns the SplitKey that makes Plan begin a request where r begins.
func (r Request) Key() SplitKey { return SplitKey{Table: r.Table, Start: r.Start} }

// String returns e.g. "holding 1+3".
func (r Request) String() string { return fmt.Sprintf("%s %d+%d", r.Table, r.Start, r.Count) }

// PlanOptionsFor returns the options of a slave's SETTINGS entry
// (maxRegisters, maxGap; an explicit maxGap of 0 is NoGap).
func PlanOptionsFor(sl *settings.Slave) PlanOptions {
	o := PlanOptions{MaxRegisters: sl.MaxRegisters}
	if sl.MaxGap != nil {
		o.MaxGap = *sl.MaxGap
		if o.MaxGap == 0 {
			o.MaxGap = NoGap
		}
	}
	return o
}

// planTables is the order requests come out in: by function code.
var planTables = []string{settings.TypeCoil, settings.TypeDiscrete, settings.TypeHolding, settings.TypeInput}

// Plan coalesces the variables of one slave into read requests. Per table
// (coils, discrete inputs, holding registers, input registers, in that
// order), variables are sorted by address and joined into one request
// while its span stays within the table's maximum and the unused space
// between consecutive variables stays within MaxGap. Variables on the same
// or overlapping registers (bit addresses, 8-bit types) share a request.
// ignore variables are never read for themselves, but the registers they
// cover count as used space, so they may bridge two variables. A variable
// longer than the maximum (which validation prevents) gets a request of its
// own, as long as the variable. Variables of an unknown table are left out.
// The output depends only on the arguments.
func Plan(vars []settings.Variable, opts PlanOptions) []Request {
	maxRegs := requestLimit(opts.MaxRegisters, MaxReadRegisters)
	maxBits := requestLimit(opts.MaxBits, MaxReadBits)
	gap := opts.MaxGap
	switch {
	case gap == 0:
		gap = DefaultMaxGap
	case gap < 0:
		gap = 0
	}

	type item struct {
		idx, start, end int
		ignore          bool
	}
	var out []Request
	items := make([]item, 0, len(vars))
	for _, table := range planTables {
		maxSpan := maxRegs
		if table == settings.TypeCoil || table == settings.TypeDiscrete {
			maxSpan = maxBits
		}
		items = items[:0]
		for i := range vars {
			v := &vars[i]
			if v.Type != table {
				continue
			}
			start := int(v.Address.Register)
			items = append(items, item{i, start, start + codec.SpanOf(v), v.Datatype == settings.DatatypeIgnore})
		}
		slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.start, b.start) })

		cur := -1          // index in out of the open request
		var end, known int // end of the variables read; end of the space known to exist
		for _, it := range items {
			if it.ignore {
				if cur >= 0 {
					if it.start-known > gap {
						cur = -1 // the chain is broken
					} else {
						known = max(known, it.end)
					}
				}
				continue
			}
			if cur >= 0 {
				r := &out[cur]
				if it.start-known <= gap && max(end, it.end)-int(r.Start) <= maxSpan &&
					!(it.start > int(r.Start) && opts.Split[SplitKey{table, uint16(it.start)}]) {
					r.Vars = append(r.Vars, it.idx)
					end = max(end, it.end)
					known = max(known, it.end)
					r.Count = uint16(end - int(r.Start))
					continue
				}
			}
			out = append(out, Request{Table: table, Start: uint16(it.start), Count: uint16(min(it.end-it.start, 0xFFFF)), Vars: []int{it.idx}})
			cur = len(out) - 1
			end, known = it.end, it.end
		}
	}
	return out
}

func requestLimit(v, protocolMax int) int {
	if v <= 0 || v > protocolMax {
		return protocolMax
	}
	return v
}

// SplitRequest splits a request that a device refused (typically with
// exception 2, illegal data address) into two at a variable boundary, as
// near the middle of r.Vars as possible, so the poller can bisect until it
// finds the refused variable. Each half spans its own variables only. ok is
// false when there is nothing to split: every variable of r starts at the
// same address (one variable, or bit variables of one register).
//
// To keep the finer plan for the device, add b.Key() to PlanOptions.Split
// for every split made: Plan then reproduces the halves. When a request of
// one variable is refused, also add the key of the request after it.
func SplitRequest(r Request, vars []settings.Variable) (a, b Request, ok bool) {
	start := func(k int) int { return int(vars[r.Vars[k]].Address.Register) }
	best := -1
	mid := len(r.Vars) / 2
	for k := 1; k < len(r.Vars); k++ {
		if start(k) == start(k-1) {
			continue
		}
		if best < 0 || absInt(k-mid) < absInt(best-mid) {
			best = k
		}
	}
	if best < 0 {
		return Request{}, Request{}, false
	}
	half := func(idx []int) Request {
		h := Request{Table: r.Table, Vars: slices.Clone(idx)}
		lo, hi := 1<<16, 0
		for _, i := range idx {
			v := &vars[i]
			lo = min(lo, int(v.Address.Register))
			hi = max(hi, int(v.Address.Register)+codec.SpanOf(v))
		}
		h.Start, h.Count = uint16(lo), uint16(min(hi-lo, 0xFFFF))
		return h
	}
	return half(r.Vars[:best]), half(r.Vars[best:]), true
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Extract returns v's registers out of regs, the registers read by r (a
// slice of regs, not a copy), or nil when v does not lie within them.
func Extract(r Request, v *settings.Variable, regs []uint16) []uint16 {
	lo, hi, ok := varRange(r, v, len(regs))
	if !ok {
		return nil
	}
	return regs[lo:hi]
}

// ExtractBits is Extract for coils and discrete inputs.
func ExtractBits(r Request, v *settings.Variable, bits []bool) []bool {
	lo, hi, ok := varRange(r, v, len(bits))
	if !ok {
		return nil
	}
	return bits[lo:hi]
}

func varRange(r Request, v *settings.Variable, n int) (lo, hi int, ok bool) {
	lo = int(v.Address.Register) - int(r.Start)
	hi = lo + codec.SpanOf(v)
	if v.Type != r.Table || lo < 0 || hi > n {
		return 0, 0, false
	}
	return lo, hi, true
}
