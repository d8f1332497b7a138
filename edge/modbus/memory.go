package modbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Table names one of the four Modbus data tables.
type Table int

// The Modbus data tables.
const (
	Coils            Table = iota + 1 // read/write bits, FC 1, 5, 15
	DiscreteInputs                    // read-only bits, FC 2
	InputRegisters                    // read-only registers, FC 4
	HoldingRegisters                  // read/write registers, FC 3, 6, 16, 23
)

// String returns the table's name, e.g. "holding registers".
func (t Table) String() string {
	switch t {
	case Coils:
		return "coils"
	case DiscreteInputs:
		return "discrete inputs"
	case InputRegisters:
		return "input registers"
	case HoldingRegisters:
		return "holding registers"
	}
	return fmt.Sprintf("table(%d)", int(t))
}

func (t Table) isBits() bool { return t == Coils || t == DiscreteInputs }
func (t Table) isRegs() bool { return t == InputRegisters || t == HoldingRegisters }

// Range is a span of addresses of one table.
type Range struct {
	// Start is the first address.
	Start uint16
	// Count is the number of addresses; Start+Count must not exceed 65536.
	Count uint16
}

// end returns the address after the range.
func (r Range) end() int { return int(r.Start) + int(r.Count) }

// unitImage is the data of one unit id. Tables are allocated on first write;
// nil reads as zeros.
type unitImage struct {
	bits       [2][]bool   // Coils, DiscreteInputs
	regs       [2][]uint16 // InputRegisters, HoldingRegisters
	restricted [4]bool
	ranges     [4][]Range // sorted, merged; valid when restricted
	ident      map[byte]string
}

// valid reports whether every address of [addr, addr+qty) may be accessed.
func (u *unitImage) valid(t Table, addr, qty uint16) bool {
	if u == nil || !u.restricted[t-1] {
		return true
	}
	end := int(addr) + int(qty)
	for _, r := range u.ranges[t-1] {
		if int(addr) >= int(r.Start) && end <= r.end() {
			return true
		}
	}
	return false
}

// Memory is a thread-safe in-memory device image that implements Handler
// for FC 1, 2, 3, 4, 5, 6, 15, 16, 23 and 43/14. Every unit id has its own
// four tables of 65536 addresses, all valid and reading as 0 until set or
// restricted. By default it answers every unit id; SetUnits limits that.
// The zero value is not usable: call NewMemory.
type Memory struct {
	mu          sync.RWMutex
	units       map[byte]*unitImage
	only        map[byte]bool // nil: answer every unit id
	unknownUnit ExceptionCode // 0: no response
	onWrite     func(unit byte, table Table, addr, qty uint16)
}

var _ Handler = (*Memory)(nil)

// NewMemory returns an empty device image answering every unit id.
func NewMemory() *Memory {
	return &Memory{units: make(map[byte]*unitImage)}
}

// SetUnits makes m answer only the given unit ids; with no ids it answers
// every unit id again. Requests for other unit ids get the response set by
// SetUnknownUnitResponse (by default none, so the client times out).
func (m *Memory) SetUnits(ids ...byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(ids) == 0 {
		m.only = nil
		return
	}
	m.only = make(map[byte]bool, len(ids))
	for _, id := range ids {
		m.only[id] = true
	}
}

// SetUnknownUnitResponse sets how requests for unit ids excluded by
// SetUnits are answered: 0 sends no response (the default), another code
// sends that exception, e.g. GatewayTargetFailedToRespond or
// GatewayPathUnavailable as a gateway would.
func (m *Memory) SetUnknownUnitResponse(code ExceptionCode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unknownUnit = code
}

// OnWrite registers fn to be called after every write by a client (FC 5,
// 6, 15, 16, 23), outside m's lock. Only one hook is kept.
func (m *Memory) OnWrite(fn func(unit byte, table Table, addr uint16, qty uint16)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onWrite = fn
}

// image returns the unit's image, creating it; m.mu must be held for writing.
func (m *Memory) image(unit byte) *unitImage {
	u := m.units[unit]
	if u == nil {
		u = &unitImage{}
		m.units[unit] = u
	}
	return u
}

func checkSpan(op string, t Table, addr uint16, n int) {
	if int(addr)+n > 0x10000 {
		panic(fmt.Sprintf("modbus: Memory.%s %s %d+%d beyond address 65535", op, t, addr, n))
	}
}

// SetRegisters stores vs from addr in table (InputRegisters or
// HoldingRegisters) of unit. It panics for a bit table or if the values run
// past address 65535. It ignores restrictions and does not call OnWrite.
func (m *Memory) SetRegisters(unit byte, table Table, addr uint16, vs ...uint16) {
	if !table.isRegs() {
		panic(fmt.Sprintf("modbus: Memory.SetRegisters on %s", table))
	}
	checkSpan("SetRegisters", table, addr, len(vs))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setRegs(unit, table, addr, vs)
}

func (m *Memory) setRegs(unit byte, table Table, addr uint16, vs []uint16) {
	u := m.image(unit)
	i := table - InputRegisters
	if u.regs[i] == nil {
		u.regs[i] = make([]uint16, 0x10000)
	}
	copy(u.regs[i][addr:], vs)
}

// Registers returns qty registers from addr in table (InputRegisters or
// HoldingRegisters) of unit. It panics for a bit table or if the range runs
// past address 65535.
func (m *Memory) Registers(unit byte, table Table, addr, qty uint16) []uint16 {
	if !table.isRegs() {
		panic(fmt.Sprintf("modbus: Memory.Registers on %s", table))
	}
	checkSpan("Registers", table, addr, int(qty))
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.regs(unit, table, addr, qty)
}

func (m *Memory) regs(unit byte, table Table, addr, qty uint16) []uint16 {
	out := make([]uint16, qty)
	if u := m.units[unit]; u != nil && u.regs[table-InputRegisters] != nil {
		copy(out, u.regs[table-InputRegisters][addr:])
	}
	return out
}

// SetBits stores vs from addr in table (Coils or DiscreteInputs) of unit.
// It panics for a register table or if the values run past address 65535.
// It ignores restrictions and does not call OnWrite.
func (m *Memory) SetBits(unit byte, table Table, addr uint16, vs ...bool) {
	if !table.isBits() {
		panic(fmt.Sprintf("modbus: Memory.SetBits on %s", table))
	}
	checkSpan("SetBits", table, addr, len(vs))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setBits(unit, table, addr, vs)
}

func (m *Memory) setBits(unit byte, table Table, addr uint16, vs []bool) {
	u := m.image(unit)
	i := table - Coils
	if u.bits[i] == nil {
		u.bits[i] = make([]bool, 0x10000)
	}
	copy(u.bits[i][addr:], vs)
}

// Bits returns qty bits from addr in table (Coils or DiscreteInputs) of
// unit. It panics for a register table or if the range runs past address
// 65535.
func (m *Memory) Bits(unit byte, table Table, addr, qty uint16) []bool {
	if !table.isBits() {
		panic(fmt.Sprintf("modbus: Memory.Bits on %s", table))
	}
	checkSpan("Bits", table, addr, int(qty))
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bitsOf(unit, table, addr, qty)
}

func (m *Memory) bitsOf(unit byte, table Table, addr, qty uint16) []bool {
	out := make([]bool, qty)
	if u := m.units[unit]; u != nil && u.bits[table-Coils] != nil {
		copy(out, u.bits[table-Coils][addr:])
	}
	return out
}

// Restrict makes only the given address ranges of table valid for unit, as
// real devices have gaps in their register maps: a request touching any
// other address gets IllegalDataAddress. Each call replaces the previous
// ranges; no ranges makes the whole table invalid. Adjacent and overlapping
// ranges are merged, so one request may span them.
func (m *Memory) Restrict(unit byte, table Table, ranges ...Range) {
	if table < Coils || table > HoldingRegisters {
		panic(fmt.Sprintf("modbus: Memory.Restrict on %s", table))
	}
	rs := slices.Clone(ranges)
	rs = slices.DeleteFunc(rs, func(r Range) bool { return r.Count == 0 })
	slices.SortFunc(rs, func(a, b Range) int { return int(a.Start) - int(b.Start) })
	var merged []Range
	for _, r := range rs {
		if r.end() > 0x10000 {
			panic(fmt.Sprintf("modbus: Memory.Restrict %s range %d+%d beyond address 65535", table, r.Start, r.Count))
		}
		if n := len(merged); n > 0 && int(r.Start) <= merged[n-1].end() {
			last := &merged[n-1]
			last.Count = uint16(max(last.end(), r.end()) - int(last.Start))
			continue
		}
		merged = append(merged, r)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.image(unit)
	u.restricted[table-1] = true
	u.ranges[table-1] = merged
}

// SetIdentification sets the device identification objects of unit served
// by FC 43/14 (0 vendor name, 1 product code, 2 major/minor revision, 3-6
// regular, 0x80-0xFF extended). Values longer than 244 bytes are truncated
// so each fits in a response. Without identification a unit answers FC 43
// with IllegalFunction.
func (m *Memory) SetIdentification(unit byte, objects map[byte]string) {
	const maxValue = MaxPDUSize - deviceIDHeader - 2
	ident := make(map[byte]string, len(objects))
	for id, v := range objects {
		if len(v) > maxValue {
			v = v[:maxValue]
		}
		ident[id] = v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.image(unit).ident = ident
}

// HandleModbus implements Handler. Requests are checked in the order of
// the specification: function code, quantity and length, address, then
// executed.
func (m *Memory) HandleModbus(_ context.Context, unit byte, req PDU) (PDU, error) {
	m.mu.RLock()
	if m.only != nil && !m.only[unit] {
		code := m.unknownUnit
		m.mu.RUnlock()
		if code == 0 {
			return PDU{}, ErrNoResponse
		}
		return PDU{}, exception(req.Function, code)
	}
	m.mu.RUnlock()

	switch req.Function {
	case FuncReadCoils, FuncReadDiscreteInputs:
		return m.readBits(unit, req)
	case FuncReadHoldingRegisters, FuncReadInputRegisters:
		return m.readRegs(unit, req)
	case FuncWriteSingleCoil:
		addr, v, err := ParseWriteSingleCoilRequest(req)
		if err != nil {
			return PDU{}, err
		}
		if err := m.writeBits(unit, req.Function, addr, []bool{v}); err != nil {
			return PDU{}, err
		}
		return NewWriteResponse(req.Function, addr, be16(req.Data[2:])), nil
	case FuncWriteMultipleCoils:
		addr, vs, err := ParseWriteMultipleCoilsRequest(req)
		if err != nil {
			return PDU{}, err
		}
		if err := m.writeBits(unit, req.Function, addr, vs); err != nil {
			return PDU{}, err
		}
		return NewWriteResponse(req.Function, addr, uint16(len(vs))), nil
	case FuncWriteSingleRegister:
		addr, v, err := ParseWriteSingleRegisterRequest(req)
		if err != nil {
			return PDU{}, err
		}
		if _, err := m.writeRegs(unit, req.Function, addr, []uint16{v}, nil); err != nil {
			return PDU{}, err
		}
		return NewWriteResponse(req.Function, addr, v), nil
	case FuncWriteMultipleRegisters:
		addr, vs, err := ParseWriteMultipleRegistersRequest(req)
		if err != nil {
			return PDU{}, err
		}
		if _, err := m.writeRegs(unit, req.Function, addr, vs, nil); err != nil {
			return PDU{}, err
		}
		return NewWriteResponse(req.Function, addr, uint16(len(vs))), nil
	case FuncReadWriteMultipleRegisters:
		readAddr, readQty, writeAddr, vs, err := ParseReadWriteMultipleRegistersRequest(req)
		if err != nil {
			return PDU{}, err
		}
		out, err := m.writeRegs(unit, req.Function, writeAddr, vs, &Range{readAddr, readQty})
		if err != nil {
			return PDU{}, err
		}
		return NewRegistersResponse(req.Function, out), nil
	case FuncEncapsulatedInterface:
		return m.readDeviceID(unit, req)
	}
	return PDU{}, exception(req.Function, IllegalFunction)
}

func bitTable(fn byte) Table {
	if fn == FuncReadDiscreteInputs {
		return DiscreteInputs
	}
	return Coils
}

func regTable(fn byte) Table {
	if fn == FuncReadInputRegisters {
		return InputRegisters
	}
	return HoldingRegisters
}

func (m *Memory) readBits(unit byte, req PDU) (PDU, error) {
	addr, qty, err := ParseReadRequest(req)
	if err != nil {
		return PDU{}, err
	}
	t := bitTable(req.Function)
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.units[unit].valid(t, addr, qty) {
		return PDU{}, fmt.Errorf("%s %d+%d: %w", t, addr, qty, exception(req.Function, IllegalDataAddress))
	}
	return NewBitsResponse(req.Function, m.bitsOf(unit, t, addr, qty)), nil
}

func (m *Memory) readRegs(unit byte, req PDU) (PDU, error) {
	addr, qty, err := ParseReadRequest(req)
	if err != nil {
		return PDU{}, err
	}
	t := regTable(req.Function)
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.units[unit]
	if !u.valid(t, addr, qty) {
		return PDU{}, fmt.Errorf("%s %d+%d: %w", t, addr, qty, exception(req.Function, IllegalDataAddress))
	}
	// Encode straight from the table: no intermediate slice.
	d := make([]byte, 1, 1+2*int(qty))
	d[0] = byte(2 * int(qty))
	if u != nil && u.regs[t-InputRegisters] != nil {
		d = appendRegisters(d, u.regs[t-InputRegisters][addr:int(addr)+int(qty)])
	} else {
		d = d[:1+2*int(qty)]
	}
	return PDU{Function: req.Function, Data: d}, nil
}

func (m *Memory) writeBits(unit byte, fn byte, addr uint16, vs []bool) error {
	m.mu.Lock()
	if !m.units[unit].valid(Coils, addr, uint16(len(vs))) {
		m.mu.Unlock()
		return fmt.Errorf("coils %d+%d: %w", addr, len(vs), exception(fn, IllegalDataAddress))
	}
	m.setBits(unit, Coils, addr, vs)
	hook := m.onWrite
	m.mu.Unlock()
	if hook != nil {
		hook(unit, Coils, addr, uint16(len(vs)))
	}
	return nil
}

// writeRegs writes vs to holding registers and then, if read is not nil,
// reads that range, atomically (FC 23 writes before it reads).
func (m *Memory) writeRegs(unit byte, fn byte, addr uint16, vs []uint16, read *Range) ([]uint16, error) {
	m.mu.Lock()
	u := m.units[unit]
	if !u.valid(HoldingRegisters, addr, uint16(len(vs))) {
		m.mu.Unlock()
		return nil, fmt.Errorf("holding registers %d+%d: %w", addr, len(vs), exception(fn, IllegalDataAddress))
	}
	if read != nil && !u.valid(HoldingRegisters, read.Start, read.Count) {
		m.mu.Unlock()
		return nil, fmt.Errorf("holding registers %d+%d: %w", read.Start, read.Count, exception(fn, IllegalDataAddress))
	}
	m.setRegs(unit, HoldingRegisters, addr, vs)
	var out []uint16
	if read != nil {
		out = m.regs(unit, HoldingRegisters, read.Start, read.Count)
	}
	hook := m.onWrite
	m.mu.Unlock()
	if hook != nil {
		hook(unit, HoldingRegisters, addr, uint16(len(vs)))
	}
	return out, nil
}

// conformityLevel returns the identification conformity level of a set of
// objects: basic, regular or extended, with stream and individual access.
func conformityLevel(ident map[byte]string) byte {
	level := ReadDeviceIDBasic
	for id := range ident {
		switch {
		case id >= 0x80:
			level = ReadDeviceIDExtended
		case id >= 0x03 && level < ReadDeviceIDRegular:
			level = ReadDeviceIDRegular
		}
	}
	return 0x80 | level
}

func (m *Memory) readDeviceID(unit byte, req PDU) (PDU, error) {
	readCode, objectID, err := ParseReadDeviceIDRequest(req)
	if err != nil {
		return PDU{}, err
	}
	m.mu.RLock()
	u := m.units[unit]
	var ident map[byte]string
	if u != nil {
		ident = u.ident
	}
	m.mu.RUnlock()
	if ident == nil {
		return PDU{}, fmt.Errorf("no device identification: %w", exception(req.Function, IllegalFunction))
	}
	r := DeviceIdentification{ReadCode: readCode, ConformityLevel: conformityLevel(ident)}
	if readCode == ReadDeviceIDIndividual {
		v, ok := ident[objectID]
		if !ok {
			return PDU{}, fmt.Errorf("device identification object %d: %w", objectID, exception(req.Function, IllegalDataAddress))
		}
		r.Objects = []DeviceObject{{ID: objectID, Value: v}}
		return NewReadDeviceIDResponse(r)
	}

	// Stream access: the category's objects in id order from objectID; an
	// unknown objectID restarts at the first object (V1.1b3, 6.21).
	last := map[byte]int{ReadDeviceIDBasic: 0x02, ReadDeviceIDRegular: 0x7F, ReadDeviceIDExtended: 0xFF}[readCode]
	var ids []int
	for id := range ident {
		if int(id) <= last {
			ids = append(ids, int(id))
		}
	}
	slices.Sort(ids)
	start := slices.Index(ids, int(objectID))
	if start < 0 {
		start = 0
	}
	size := deviceIDHeader
	for _, id := range ids[start:] {
		v := ident[byte(id)]
		if size+2+len(v) > MaxPDUSize {
			r.MoreFollows = true
			r.NextObjectID = byte(id)
			break
		}
		size += 2 + len(v)
		r.Objects = append(r.Objects, DeviceObject{ID: byte(id), Value: v})
	}
	return NewReadDeviceIDResponse(r)
}
