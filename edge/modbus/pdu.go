package modbus

import (
	"encoding/binary"
	"fmt"
)

// Function codes supported by this package (Modbus Application Protocol
// V1.1b3, section 6).
const (
	FuncReadCoils                  byte = 1
	FuncReadDiscreteInputs         byte = 2
	FuncReadHoldingRegisters       byte = 3
	FuncReadInputRegisters         byte = 4
	FuncWriteSingleCoil            byte = 5
	FuncWriteSingleRegister        byte = 6
	FuncWriteMultipleCoils         byte = 15
	FuncWriteMultipleRegisters     byte = 16
	FuncReadWriteMultipleRegisters byte = 23
	FuncEncapsulatedInterface      byte = 43
)

// MEITypeReadDeviceID is the MEI type of Read Device Identification, carried
// by FuncEncapsulatedInterface.
const MEITypeReadDeviceID byte = 0x0E

// Read Device Identification access codes (ReadDevId code).
const (
	ReadDeviceIDBasic      byte = 1 // stream access to objects 0x00-0x02
	ReadDeviceIDRegular    byte = 2 // stream access to objects 0x00-0x7F
	ReadDeviceIDExtended   byte = 3 // stream access to objects 0x00-0xFF
	ReadDeviceIDIndividual byte = 4 // one specific object
)

// Protocol limits on quantities per request.
const (
	// MaxReadRegisters is the largest quantity of registers one FC 3, 4 or
	// (read part of) FC 23 request may read.
	MaxReadRegisters = 125
	// MaxWriteRegisters is the largest quantity of registers one FC 16
	// request may write.
	MaxWriteRegisters = 123
	// MaxReadWriteWriteRegisters is the largest quantity of registers the
	// write part of an FC 23 request may carry.
	MaxReadWriteWriteRegisters = 121
	// MaxReadBits is the largest quantity of coils or discrete inputs one
	// FC 1 or 2 request may read.
	MaxReadBits = 2000
	// MaxWriteBits is the largest quantity of coils one FC 15 request may write.
	MaxWriteBits = 1968
	// MaxPDUSize is the largest PDU (function code plus data) in bytes.
	MaxPDUSize = 253
)

// PDU is a Modbus protocol data unit: a function code and its data,
// independent of the transport's framing (address, CRC, MBAP header).
type PDU struct {
	// Function is the function code; exception responses have bit 0x80 set.
	Function byte
	// Data is everything after the function code.
	Data []byte
}

// IsException reports whether p is an exception response.
func (p PDU) IsException() bool { return p.Function&0x80 != 0 }

// funcName names function codes in errors.
func funcName(fn byte) string {
	switch fn {
	case FuncReadCoils:
		return "read coils"
	case FuncReadDiscreteInputs:
		return "read discrete inputs"
	case FuncReadHoldingRegisters:
		return "read holding registers"
	case FuncReadInputRegisters:
		return "read input registers"
	case FuncWriteSingleCoil:
		return "write single coil"
	case FuncWriteSingleRegister:
		return "write single register"
	case FuncWriteMultipleCoils:
		return "write multiple coils"
	case FuncWriteMultipleRegisters:
		return "write multiple registers"
	case FuncReadWriteMultipleRegisters:
		return "read/write multiple registers"
	case FuncEncapsulatedInterface:
		return "encapsulated interface transport"
	default:
		return fmt.Sprintf("function %d", fn)
	}
}

// checkRange validates qty in [1, max] and that addr+qty stays within the
// 16-bit address space. what names the unit ("registers", "coils").
func checkRange(addr, qty uint16, max int, limitName, what string) error {
	if qty == 0 || int(qty) > max {
		return fmt.Errorf("quantity %d %s out of range 1..%d (%s): %w", qty, what, max, limitName, ErrInvalidRequest)
	}
	if int(addr)+int(qty) > 0x10000 {
		return fmt.Errorf("address %d + quantity %d exceeds the 16-bit address space: %w", addr, qty, ErrInvalidRequest)
	}
	return nil
}

// readLimit returns the quantity limit and unit name for a read function.
func readLimit(fn byte) (max int, limitName, what string, ok bool) {
	switch fn {
	case FuncReadCoils:
		return MaxReadBits, "MaxReadBits", "coils", true
	case FuncReadDiscreteInputs:
		return MaxReadBits, "MaxReadBits", "discrete inputs", true
	case FuncReadHoldingRegisters, FuncReadInputRegisters:
		return MaxReadRegisters, "MaxReadRegisters", "registers", true
	}
	return 0, "", "", false
}

func bitBytes(qty int) int { return (qty + 7) / 8 }

// packBits appends bits packed LSB first (the first bit is bit 0 of the
// first byte), padding the last byte with zeros.
func packBits(dst []byte, bits []bool) []byte {
	n := bitBytes(len(bits))
	start := len(dst)
	for range n {
		dst = append(dst, 0)
	}
	for i, b := range bits {
		if b {
			dst[start+i/8] |= 1 << (i % 8)
		}
	}
	return dst
}

// unpackBits returns qty bits from b (LSB first); b must hold enough bytes.
func unpackBits(b []byte, qty int) []bool {
	out := make([]bool, qty)
	for i := range out {
		out[i] = b[uint(i)>>3]>>(uint(i)&7)&1 != 0
	}
	return out
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// ---- requests ---------------------------------------------------------

// NewReadRequest encodes a read request for FC 1, 2, 3 or 4: starting
// address and quantity, validated against MaxReadBits / MaxReadRegisters.
func NewReadRequest(fn byte, addr, qty uint16) (PDU, error) {
	max, limitName, what, ok := readLimit(fn)
	if !ok {
		return PDU{}, fmt.Errorf("%s is not a read function: %w", funcName(fn), ErrInvalidRequest)
	}
	if err := checkRange(addr, qty, max, limitName, what); err != nil {
		return PDU{}, err
	}
	d := make([]byte, 4)
	binary.BigEndian.PutUint16(d, addr)
	binary.BigEndian.PutUint16(d[2:], qty)
	return PDU{Function: fn, Data: d}, nil
}

// requestError wraps an exception for a malformed or out-of-limit request.
func requestError(fn byte, code ExceptionCode, format string, args ...any) error {
	return fmt.Errorf("%s request: %s: %w", funcName(fn), fmt.Sprintf(format, args...), exception(fn, code))
}

// ParseReadRequest decodes a FC 1, 2, 3 or 4 request. Errors wrap an
// *ExceptionError (IllegalDataValue for a bad length or quantity,
// IllegalDataAddress when addr+qty leaves the address space).
func ParseReadRequest(p PDU) (addr, qty uint16, err error) {
	max, _, _, ok := readLimit(p.Function)
	if !ok {
		return 0, 0, requestError(p.Function, IllegalFunction, "not a read function")
	}
	if len(p.Data) != 4 {
		return 0, 0, requestError(p.Function, IllegalDataValue, "data length %d, want 4", len(p.Data))
	}
	addr, qty = be16(p.Data), be16(p.Data[2:])
	if qty == 0 || int(qty) > max {
		return 0, 0, requestError(p.Function, IllegalDataValue, "quantity %d out of range 1..%d", qty, max)
	}
	if int(addr)+int(qty) > 0x10000 {
		return 0, 0, requestError(p.Function, IllegalDataAddress, "address %d + quantity %d out of range", addr, qty)
	}
	return addr, qty, nil
}

// Coil values on the wire for FC 5.
const (
	coilOn  uint16 = 0xFF00
	coilOff uint16 = 0x0000
)

// NewWriteSingleCoilRequest encodes a FC 5 request.
func NewWriteSingleCoilRequest(addr uint16, v bool) PDU {
	val := coilOff
	if v {
		val = coilOn
	}
	return PDU{Function: FuncWriteSingleCoil, Data: binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(make([]byte, 0, 4), addr), val)}
}

// ParseWriteSingleCoilRequest decodes a FC 5 request; a value other than
// 0x0000 or 0xFF00 is an IllegalDataValue exception.
func ParseWriteSingleCoilRequest(p PDU) (addr uint16, v bool, err error) {
	if p.Function != FuncWriteSingleCoil {
		return 0, false, requestError(p.Function, IllegalFunction, "not write single coil")
	}
	if len(p.Data) != 4 {
		return 0, false, requestError(p.Function, IllegalDataValue, "data length %d, want 4", len(p.Data))
	}
	addr, val := be16(p.Data), be16(p.Data[2:])
	switch val {
	case coilOn:
		return addr, true, nil
	case coilOff:
		return addr, false, nil
	}
	return 0, false, requestError(p.Function, IllegalDataValue, "coil value 0x%04x, want 0x0000 or 0xFF00", val)
}

// NewWriteSingleRegisterRequest encodes a FC 6 request.
func NewWriteSingleRegisterRequest(addr, v uint16) PDU {
	return PDU{Function: FuncWriteSingleRegister, Data: binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(make([]byte, 0, 4), addr), v)}
}

// ParseWriteSingleRegisterRequest decodes a FC 6 request.
func ParseWriteSingleRegisterRequest(p PDU) (addr, v uint16, err error) {
	if p.Function != FuncWriteSingleRegister {
		return 0, 0, requestError(p.Function, IllegalFunction, "not write single register")
	}
	if len(p.Data) != 4 {
		return 0, 0, requestError(p.Function, IllegalDataValue, "data length %d, want 4", len(p.Data))
	}
	return be16(p.Data), be16(p.Data[2:]), nil
}

// NewWriteMultipleCoilsRequest encodes a FC 15 request; len(vs) must be
// 1..MaxWriteBits.
func NewWriteMultipleCoilsRequest(addr uint16, vs []bool) (PDU, error) {
	if len(vs) > 0xFFFF {
		return PDU{}, fmt.Errorf("quantity %d coils out of range 1..%d (MaxWriteBits): %w", len(vs), MaxWriteBits, ErrInvalidRequest)
	}
	if err := checkRange(addr, uint16(len(vs)), MaxWriteBits, "MaxWriteBits", "coils"); err != nil {
		return PDU{}, err
	}
	n := bitBytes(len(vs))
	d := make([]byte, 5, 5+n)
	binary.BigEndian.PutUint16(d, addr)
	binary.BigEndian.PutUint16(d[2:], uint16(len(vs)))
	d[4] = byte(n)
	d = packBits(d, vs)
	return PDU{Function: FuncWriteMultipleCoils, Data: d}, nil
}

// ParseWriteMultipleCoilsRequest decodes a FC 15 request.
func ParseWriteMultipleCoilsRequest(p PDU) (addr uint16, vs []bool, err error) {
	if p.Function != FuncWriteMultipleCoils {
		return 0, nil, requestError(p.Function, IllegalFunction, "not write multiple coils")
	}
	if len(p.Data) < 5 {
		return 0, nil, requestError(p.Function, IllegalDataValue, "data length %d, want at least 5", len(p.Data))
	}
	addr, qty, count := be16(p.Data), be16(p.Data[2:]), int(p.Data[4])
	if qty == 0 || qty > MaxWriteBits {
		return 0, nil, requestError(p.Function, IllegalDataValue, "quantity %d out of range 1..%d", qty, MaxWriteBits)
	}
	if count != bitBytes(int(qty)) || len(p.Data) != 5+count {
		return 0, nil, requestError(p.Function, IllegalDataValue, "byte count %d and data length %d do not match quantity %d", count, len(p.Data), qty)
	}
	if int(addr)+int(qty) > 0x10000 {
		return 0, nil, requestError(p.Function, IllegalDataAddress, "address %d + quantity %d out of range", addr, qty)
	}
	return addr, unpackBits(p.Data[5:], int(qty)), nil
}

// appendRegisters appends vs big-endian.
func appendRegisters(dst []byte, vs []uint16) []byte {
	for _, v := range vs {
		dst = binary.BigEndian.AppendUint16(dst, v)
	}
	return dst
}

// parseRegisters decodes big-endian registers.
func parseRegisters(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = be16(b[2*i:])
	}
	return out
}

// NewWriteMultipleRegistersRequest encodes a FC 16 request; len(vs) must be
// 1..MaxWriteRegisters.
func NewWriteMultipleRegistersRequest(addr uint16, vs []uint16) (PDU, error) {
	if len(vs) > 0xFFFF {
		return PDU{}, fmt.Errorf("quantity %d registers out of range 1..%d (MaxWriteRegisters): %w", len(vs), MaxWriteRegisters, ErrInvalidRequest)
	}
	if err := checkRange(addr, uint16(len(vs)), MaxWriteRegisters, "MaxWriteRegisters", "registers"); err != nil {
		return PDU{}, err
	}
	d := make([]byte, 5, 5+2*len(vs))
	binary.BigEndian.PutUint16(d, addr)
	binary.BigEndian.PutUint16(d[2:], uint16(len(vs)))
	d[4] = byte(2 * len(vs))
	d = appendRegisters(d, vs)
	return PDU{Function: FuncWriteMultipleRegisters, Data: d}, nil
}

// ParseWriteMultipleRegistersRequest decodes a FC 16 request.
func ParseWriteMultipleRegistersRequest(p PDU) (addr uint16, vs []uint16, err error) {
	if p.Function != FuncWriteMultipleRegisters {
		return 0, nil, requestError(p.Function, IllegalFunction, "not write multiple registers")
	}
	if len(p.Data) < 5 {
		return 0, nil, requestError(p.Function, IllegalDataValue, "data length %d, want at least 5", len(p.Data))
	}
	addr, qty, count := be16(p.Data), be16(p.Data[2:]), int(p.Data[4])
	if qty == 0 || qty > MaxWriteRegisters {
		return 0, nil, requestError(p.Function, IllegalDataValue, "quantity %d out of range 1..%d", qty, MaxWriteRegisters)
	}
	if count != 2*int(qty) || len(p.Data) != 5+count {
		return 0, nil, requestError(p.Function, IllegalDataValue, "byte count %d and data length %d do not match quantity %d", count, len(p.Data), qty)
	}
	if int(addr)+int(qty) > 0x10000 {
		return 0, nil, requestError(p.Function, IllegalDataAddress, "address %d + quantity %d out of range", addr, qty)
	}
	return addr, parseRegisters(p.Data[5:]), nil
}

// NewReadWriteMultipleRegistersRequest encodes a FC 23 request: read
// readQty (1..MaxReadRegisters) registers at readAddr and write vs
// (1..MaxReadWriteWriteRegisters values) at writeAddr. The server performs
// the write before the read.
func NewReadWriteMultipleRegistersRequest(readAddr, readQty, writeAddr uint16, vs []uint16) (PDU, error) {
	if err := checkRange(readAddr, readQty, MaxReadRegisters, "MaxReadRegisters", "registers to read"); err != nil {
		return PDU{}, err
	}
	if len(vs) > 0xFFFF {
		return PDU{}, fmt.Errorf("quantity %d registers to write out of range 1..%d (MaxReadWriteWriteRegisters): %w", len(vs), MaxReadWriteWriteRegisters, ErrInvalidRequest)
	}
	if err := checkRange(writeAddr, uint16(len(vs)), MaxReadWriteWriteRegisters, "MaxReadWriteWriteRegisters", "registers to write"); err != nil {
		return PDU{}, err
	}
	d := make([]byte, 9, 9+2*len(vs))
	binary.BigEndian.PutUint16(d, readAddr)
	binary.BigEndian.PutUint16(d[2:], readQty)
	binary.BigEndian.PutUint16(d[4:], writeAddr)
	binary.BigEndian.PutUint16(d[6:], uint16(len(vs)))
	d[8] = byte(2 * len(vs))
	d = appendRegisters(d, vs)
	return PDU{Function: FuncReadWriteMultipleRegisters, Data: d}, nil
}

// ParseReadWriteMultipleRegistersRequest decodes a FC 23 request.
func ParseReadWriteMultipleRegistersRequest(p PDU) (readAddr, readQty, writeAddr uint16, vs []uint16, err error) {
	fn := p.Function
	if fn != FuncReadWriteMultipleRegisters {
		return 0, 0, 0, nil, requestError(fn, IllegalFunction, "not read/write multiple registers")
	}
	if len(p.Data) < 9 {
		return 0, 0, 0, nil, requestError(fn, IllegalDataValue, "data length %d, want at least 9", len(p.Data))
	}
	readAddr, readQty = be16(p.Data), be16(p.Data[2:])
	writeAddr, writeQty, count := be16(p.Data[4:]), be16(p.Data[6:]), int(p.Data[8])
	if readQty == 0 || readQty > MaxReadRegisters {
		return 0, 0, 0, nil, requestError(fn, IllegalDataValue, "read quantity %d out of range 1..%d", readQty, MaxReadRegisters)
	}
	if writeQty == 0 || writeQty > MaxReadWriteWriteRegisters {
		return 0, 0, 0, nil, requestError(fn, IllegalDataValue, "write quantity %d out of range 1..%d", writeQty, MaxReadWriteWriteRegisters)
	}
	if count != 2*int(writeQty) || len(p.Data) != 9+count {
		return 0, 0, 0, nil, requestError(fn, IllegalDataValue, "byte count %d and data length %d do not match write quantity %d", count, len(p.Data), writeQty)
	}
	if int(readAddr)+int(readQty) > 0x10000 || int(writeAddr)+int(writeQty) > 0x10000 {
		return 0, 0, 0, nil, requestError(fn, IllegalDataAddress, "address + quantity out of range")
	}
	return readAddr, readQty, writeAddr, parseRegisters(p.Data[9:]), nil
}

// NewReadDeviceIDRequest encodes a FC 43 / MEI 14 Read Device
// Identification request; readCode is 1..4 (ReadDeviceIDBasic...).
func NewReadDeviceIDRequest(readCode, objectID byte) (PDU, error) {
	if readCode < ReadDeviceIDBasic || readCode > ReadDeviceIDIndividual {
		return PDU{}, fmt.Errorf("read device id code %d out of range 1..4: %w", readCode, ErrInvalidRequest)
	}
	return PDU{Function: FuncEncapsulatedInterface, Data: []byte{MEITypeReadDeviceID, readCode, objectID}}, nil
}

// ParseReadDeviceIDRequest decodes a FC 43 / MEI 14 request. Another MEI
// type is an IllegalFunction exception, a read code outside 1..4 an
// IllegalDataValue one.
func ParseReadDeviceIDRequest(p PDU) (readCode, objectID byte, err error) {
	fn := p.Function
	if fn != FuncEncapsulatedInterface {
		return 0, 0, requestError(fn, IllegalFunction, "not encapsulated interface transport")
	}
	if len(p.Data) < 1 {
		return 0, 0, requestError(fn, IllegalDataValue, "missing MEI type")
	}
	if p.Data[0] != MEITypeReadDeviceID {
		return 0, 0, requestError(fn, IllegalFunction, "MEI type %d not supported", p.Data[0])
	}
	if len(p.Data) != 3 {
		return 0, 0, requestError(fn, IllegalDataValue, "data length %d, want 3", len(p.Data))
	}
	readCode, objectID = p.Data[1], p.Data[2]
	if readCode < ReadDeviceIDBasic || readCode > ReadDeviceIDIndividual {
		return 0, 0, requestError(fn, IllegalDataValue, "read device id code %d out of range 1..4", readCode)
	}
	return readCode, objectID, nil
}

// ---- responses --------------------------------------------------------

// NewExceptionResponse encodes an exception response to function fn.
func NewExceptionResponse(fn byte, code ExceptionCode) PDU {
	return PDU{Function: fn | 0x80, Data: []byte{byte(code)}}
}

// responseError wraps ErrInvalidResponse with details.
func responseError(fn byte, format string, args ...any) error {
	return fmt.Errorf("%s response: %s: %w", funcName(fn), fmt.Sprintf(format, args...), ErrInvalidResponse)
}

// checkResponse returns the *ExceptionError of an exception response to fn,
// an ErrInvalidResponse error if p answers another function, or nil.
func checkResponse(p PDU, fn byte) error {
	if p.Function == fn|0x80 {
		if len(p.Data) != 1 {
			return responseError(fn, "exception response data length %d, want 1", len(p.Data))
		}
		return exception(fn, ExceptionCode(p.Data[0]))
	}
	if p.Function != fn {
		return responseError(fn, "function code %d, want %d", p.Function, fn)
	}
	return nil
}

// NewBitsResponse encodes the response to FC 1 or 2: a byte count and the
// bits packed LSB first. len(bits) must not exceed MaxReadBits.
func NewBitsResponse(fn byte, bits []bool) PDU {
	n := bitBytes(len(bits))
	d := make([]byte, 1, 1+n)
	d[0] = byte(n)
	return PDU{Function: fn, Data: packBits(d, bits)}
}

// ParseBitsResponse decodes the response to a FC 1 or 2 request for qty
// bits. Exception responses return an *ExceptionError.
func ParseBitsResponse(p PDU, fn byte, qty uint16) ([]bool, error) {
	if err := checkResponse(p, fn); err != nil {
		return nil, err
	}
	want := bitBytes(int(qty))
	if len(p.Data) < 1 || int(p.Data[0]) != want || len(p.Data) != 1+want {
		return nil, responseError(fn, "data length %d, want byte count %d for %d bits", len(p.Data), want, qty)
	}
	return unpackBits(p.Data[1:], int(qty)), nil
}

// NewRegistersResponse encodes the response to FC 3, 4 or 23: a byte count
// and the registers big-endian. len(regs) must not exceed MaxReadRegisters.
func NewRegistersResponse(fn byte, regs []uint16) PDU {
	d := make([]byte, 1, 1+2*len(regs))
	d[0] = byte(2 * len(regs))
	return PDU{Function: fn, Data: appendRegisters(d, regs)}
}

// ParseRegistersResponse decodes the response to a FC 3, 4 or 23 request
// for qty registers. Exception responses return an *ExceptionError.
func ParseRegistersResponse(p PDU, fn byte, qty uint16) ([]uint16, error) {
	if err := checkResponse(p, fn); err != nil {
		return nil, err
	}
	want := 2 * int(qty)
	if len(p.Data) < 1 || int(p.Data[0]) != want || len(p.Data) != 1+want {
		return nil, responseError(fn, "data length %d, want byte count %d for %d registers", len(p.Data), want, qty)
	}
	return parseRegisters(p.Data[1:]), nil
}

// NewWriteResponse encodes the response to FC 5, 6 (address and value
// echoed) or 15, 16 (address and quantity).
func NewWriteResponse(fn byte, addr, v uint16) PDU {
	return PDU{Function: fn, Data: binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(make([]byte, 0, 4), addr), v)}
}

// ParseWriteResponse decodes the response to FC 5, 6, 15 or 16: the address
// and the value (FC 5, 6) or quantity (FC 15, 16). Exception responses
// return an *ExceptionError.
func ParseWriteResponse(p PDU, fn byte) (addr, v uint16, err error) {
	if err := checkResponse(p, fn); err != nil {
		return 0, 0, err
	}
	if len(p.Data) != 4 {
		return 0, 0, responseError(fn, "data length %d, want 4", len(p.Data))
	}
	return be16(p.Data), be16(p.Data[2:]), nil
}

// DeviceObject is one object of a Read Device Identification response.
type DeviceObject struct {
	// ID is the object id: 0x00-0x02 basic (vendor name, product code,
	// revision), 0x03-0x7F regular, 0x80-0xFF extended.
	ID byte
	// Value is the object's value as sent (normally ASCII).
	Value string
}

// DeviceIdentification is a decoded Read Device Identification response.
type DeviceIdentification struct {
	// ReadCode echoes the request's ReadDevId code (1..4).
	ReadCode byte
	// ConformityLevel is the device's identification conformity level
	// (0x01-0x03, plus 0x80 when individual access is supported).
	ConformityLevel byte
	// MoreFollows is set when the objects did not fit in one response;
	// request again from NextObjectID.
	MoreFollows bool
	// NextObjectID is the object to ask for next when MoreFollows.
	NextObjectID byte
	// Objects are the objects in this response, in order.
	Objects []DeviceObject
}

// deviceIDHeader is the size of a Read Device Identification response PDU
// before the objects: function, MEI type, read code, conformity level,
// more follows, next object id, number of objects.
const deviceIDHeader = 7

// NewReadDeviceIDResponse encodes a FC 43 / MEI 14 response. It fails when
// the objects do not fit into one PDU.
func NewReadDeviceIDResponse(r DeviceIdentification) (PDU, error) {
	if len(r.Objects) > 0xFF {
		return PDU{}, fmt.Errorf("%d device identification objects: %w", len(r.Objects), ErrInvalidRequest)
	}
	size := deviceIDHeader
	for _, o := range r.Objects {
		if len(o.Value) > 0xFF {
			return PDU{}, fmt.Errorf("device identification object %d is %d bytes, max 255: %w", o.ID, len(o.Value), ErrInvalidRequest)
		}
		size += 2 + len(o.Value)
	}
	if size > MaxPDUSize {
		return PDU{}, fmt.Errorf("device identification response of %d bytes exceeds %d: %w", size, MaxPDUSize, ErrInvalidRequest)
	}
	more := byte(0)
	if r.MoreFollows {
		more = 0xFF
	}
	d := make([]byte, 0, size-1)
	d = append(d, MEITypeReadDeviceID, r.ReadCode, r.ConformityLevel, more, r.NextObjectID, byte(len(r.Objects)))
	for _, o := range r.Objects {
		d = append(d, o.ID, byte(len(o.Value)))
		d = append(d, o.Value...)
	}
	return PDU{Function: FuncEncapsulatedInterface, Data: d}, nil
}

// ParseReadDeviceIDResponse decodes a FC 43 / MEI 14 response. Exception
// responses return an *ExceptionError.
func ParseReadDeviceIDResponse(p PDU) (DeviceIdentification, error) {
	const fn = FuncEncapsulatedInterface
	if err := checkResponse(p, fn); err != nil {
		return DeviceIdentification{}, err
	}
	d := p.Data
	if len(d) < deviceIDHeader-1 {
		return DeviceIdentification{}, responseError(fn, "data length %d, want at least %d", len(d), deviceIDHeader-1)
	}
	if d[0] != MEITypeReadDeviceID {
		return DeviceIdentification{}, responseError(fn, "MEI type %d, want %d", d[0], MEITypeReadDeviceID)
	}
	r := DeviceIdentification{ReadCode: d[1], ConformityLevel: d[2], NextObjectID: d[4]}
	switch d[3] {
	case 0x00:
	case 0xFF:
		r.MoreFollows = true
	default:
		return DeviceIdentification{}, responseError(fn, "more follows 0x%02x, want 0x00 or 0xFF", d[3])
	}
	n := int(d[5])
	rest := d[6:]
	r.Objects = make([]DeviceObject, 0, min(n, len(rest)/2))
	for i := range n {
		if len(rest) < 2 || len(rest) < 2+int(rest[1]) {
			return DeviceIdentification{}, responseError(fn, "object %d of %d truncated", i+1, n)
		}
		l := int(rest[1])
		r.Objects = append(r.Objects, DeviceObject{ID: rest[0], Value: string(rest[2 : 2+l])})
		rest = rest[2+l:]
	}
	if len(rest) != 0 {
		return DeviceIdentification{}, responseError(fn, "%d trailing bytes after %d objects", len(rest), n)
	}
	return r, nil
}
