package modbus

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// pduBytes parses "01 00 13" into bytes.
func pduBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// toPDU splits wire bytes (function code first) into a PDU.
func toPDU(b []byte) PDU { return PDU{Function: b[0], Data: b[1:]} }

// wire joins a PDU back into wire bytes.
func wire(p PDU) []byte { return append([]byte{p.Function}, p.Data...) }

func bits(s string) []bool {
	out := make([]bool, len(s))
	for i, c := range s {
		out[i] = c == '1'
	}
	return out
}

// specVector is one request/response example of the Modbus Application
// Protocol Specification V1.1b3, section 6.
type specVector struct {
	name string
	req  string // request PDU, hex
	resp string // response PDU, hex
	// encodeReq builds the request with the package's encoder.
	encodeReq func() (PDU, error)
	// parseReq decodes the request and returns its fields.
	parseReq func(PDU) (any, error)
	wantReq  any
	// encodeResp builds the response from wantResp-like values.
	encodeResp func() (PDU, error)
	// parseResp decodes the response for the request.
	parseResp func(PDU) (any, error)
	wantResp  any
}

type readReq struct{ Addr, Qty uint16 }
type writeReq struct {
	Addr uint16
	V    any
}
type rwReq struct {
	ReadAddr, ReadQty, WriteAddr uint16
	Vs                           []uint16
}
type devIDReq struct{ Code, Object byte }

func twoValues[A, B any](a A, b B, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return writeReq{Addr: any(a).(uint16), V: b}, nil
}

// The spec's 43/14 basic example ("Company identification", "Product code
// XX", "V2.11"). The spec prints 0x0D as the length of the 15-byte product
// code; the vector uses the correct length 0x0F.
const specDeviceIDResp = "2B 0E 01 01 00 00 03" +
	" 00 16 436F6D70616E79206964656E74696669636174696F6E" +
	" 01 0F 50726F6475637420636F6465205858" +
	" 02 05 56322E3131"

var specVectors = []specVector{
	{
		name: "FC01 read coils 20-38", req: "01 0013 0013", resp: "01 03 CD 6B 05",
		encodeReq: func() (PDU, error) { return NewReadRequest(FuncReadCoils, 0x13, 19) },
		parseReq: func(p PDU) (any, error) {
			a, q, err := ParseReadRequest(p)
			return readReq{a, q}, err
		},
		wantReq:    readReq{0x13, 19},
		encodeResp: func() (PDU, error) { return NewBitsResponse(FuncReadCoils, bits("1011001111010110101")), nil },
		parseResp:  func(p PDU) (any, error) { return ParseBitsResponse(p, FuncReadCoils, 19) },
		wantResp:   bits("1011001111010110101"),
	},
	{
		name: "FC02 read discrete inputs 197-218", req: "02 00C4 0016", resp: "02 03 AC DB 35",
		encodeReq: func() (PDU, error) { return NewReadRequest(FuncReadDiscreteInputs, 0xC4, 22) },
		parseReq: func(p PDU) (any, error) {
			a, q, err := ParseReadRequest(p)
			return readReq{a, q}, err
		},
		wantReq: readReq{0xC4, 22},
		encodeResp: func() (PDU, error) {
			return NewBitsResponse(FuncReadDiscreteInputs, bits("0011010111011011101011")), nil
		},
		parseResp: func(p PDU) (any, error) { return ParseBitsResponse(p, FuncReadDiscreteInputs, 22) },
		wantResp:  bits("0011010111011011101011"),
	},
	{
		name: "FC03 read holding registers 108-110", req: "03 006B 0003", resp: "03 06 022B 0000 0064",
		encodeReq: func() (PDU, error) { return NewReadRequest(FuncReadHoldingRegisters, 0x6B, 3) },
		parseReq: func(p PDU) (any, error) {
			a, q, err := ParseReadRequest(p)
			return readReq{a, q}, err
		},
		wantReq:    readReq{0x6B, 3},
		encodeResp: func() (PDU, error) { return NewRegistersResponse(FuncReadHoldingRegisters, []uint16{555, 0, 100}), nil },
		parseResp:  func(p PDU) (any, error) { return ParseRegistersResponse(p, FuncReadHoldingRegisters, 3) },
		wantResp:   []uint16{555, 0, 100},
	},
	{
		name: "FC04 read input register 9", req: "04 0008 0001", resp: "04 02 000A",
		encodeReq: func() (PDU, error) { return NewReadRequest(FuncReadInputRegisters, 8, 1) },
		parseReq: func(p PDU) (any, error) {
			a, q, err := ParseReadRequest(p)
			return readReq{a, q}, err
		},
		wantReq:    readReq{8, 1},
		encodeResp: func() (PDU, error) { return NewRegistersResponse(FuncReadInputRegisters, []uint16{10}), nil },
		parseResp:  func(p PDU) (any, error) { return ParseRegistersResponse(p, FuncReadInputRegisters, 1) },
		wantResp:   []uint16{10},
	},
	{
		name: "FC05 write single coil 173 ON", req: "05 00AC FF00", resp: "05 00AC FF00",
		encodeReq:  func() (PDU, error) { return NewWriteSingleCoilRequest(0xAC, true), nil },
		parseReq:   func(p PDU) (any, error) { return twoValues(ParseWriteSingleCoilRequest(p)) },
		wantReq:    writeReq{0xAC, true},
		encodeResp: func() (PDU, error) { return NewWriteResponse(FuncWriteSingleCoil, 0xAC, 0xFF00), nil },
		parseResp: func(p PDU) (any, error) {
			return twoValues(ParseWriteResponse(p, FuncWriteSingleCoil))
		},
		wantResp: writeReq{0xAC, uint16(0xFF00)},
	},
	{
		name: "FC06 write single register 2", req: "06 0001 0003", resp: "06 0001 0003",
		encodeReq:  func() (PDU, error) { return NewWriteSingleRegisterRequest(1, 3), nil },
		parseReq:   func(p PDU) (any, error) { return twoValues(ParseWriteSingleRegisterRequest(p)) },
		wantReq:    writeReq{1, uint16(3)},
		encodeResp: func() (PDU, error) { return NewWriteResponse(FuncWriteSingleRegister, 1, 3), nil },
		parseResp: func(p PDU) (any, error) {
			return twoValues(ParseWriteResponse(p, FuncWriteSingleRegister))
		},
		wantResp: writeReq{1, uint16(3)},
	},
	{
		name: "FC15 write multiple coils 20-29", req: "0F 0013 000A 02 CD 01", resp: "0F 0013 000A",
		encodeReq: func() (PDU, error) { return NewWriteMultipleCoilsRequest(0x13, bits("1011001110")) },
		parseReq:  func(p PDU) (any, error) { return twoValues(ParseWriteMultipleCoilsRequest(p)) },
		wantReq:   writeReq{0x13, bits("1011001110")},
		encodeResp: func() (PDU, error) {
			return NewWriteResponse(FuncWriteMultipleCoils, 0x13, 10), nil
		},
		parseResp: func(p PDU) (any, error) {
			return twoValues(ParseWriteResponse(p, FuncWriteMultipleCoils))
		},
		wantResp: writeReq{0x13, uint16(10)},
	},
	{
		name: "FC16 write multiple registers 2-3", req: "10 0001 0002 04 000A 0102", resp: "10 0001 0002",
		encodeReq: func() (PDU, error) { return NewWriteMultipleRegistersRequest(1, []uint16{0x000A, 0x0102}) },
		parseReq:  func(p PDU) (any, error) { return twoValues(ParseWriteMultipleRegistersRequest(p)) },
		wantReq:   writeReq{1, []uint16{0x000A, 0x0102}},
		encodeResp: func() (PDU, error) {
			return NewWriteResponse(FuncWriteMultipleRegisters, 1, 2), nil
		},
		parseResp: func(p PDU) (any, error) {
			return twoValues(ParseWriteResponse(p, FuncWriteMultipleRegisters))
		},
		wantResp: writeReq{1, uint16(2)},
	},
	{
		name: "FC23 read/write multiple registers",
		req:  "17 0003 0006 000E 0003 06 00FF 00FF 00FF",
		resp: "17 0C 00FE 0ACD 0001 0003 000D 00FF",
		encodeReq: func() (PDU, error) {
			return NewReadWriteMultipleRegistersRequest(3, 6, 0x0E, []uint16{0xFF, 0xFF, 0xFF})
		},
		parseReq: func(p PDU) (any, error) {
			ra, rq, wa, vs, err := ParseReadWriteMultipleRegistersRequest(p)
			return rwReq{ra, rq, wa, vs}, err
		},
		wantReq: rwReq{3, 6, 0x0E, []uint16{0xFF, 0xFF, 0xFF}},
		encodeResp: func() (PDU, error) {
			return NewRegistersResponse(FuncReadWriteMultipleRegisters, []uint16{0xFE, 0xACD, 1, 3, 0xD, 0xFF}), nil
		},
		parseResp: func(p PDU) (any, error) { return ParseRegistersResponse(p, FuncReadWriteMultipleRegisters, 6) },
		wantResp:  []uint16{0xFE, 0xACD, 1, 3, 0xD, 0xFF},
	},
	{
		name: "FC43/14 read device identification basic",
		req:  "2B 0E 01 00",
		resp: specDeviceIDResp,
		encodeReq: func() (PDU, error) {
			return NewReadDeviceIDRequest(ReadDeviceIDBasic, 0)
		},
		parseReq: func(p PDU) (any, error) {
			c, o, err := ParseReadDeviceIDRequest(p)
			return devIDReq{c, o}, err
		},
		wantReq: devIDReq{1, 0},
		encodeResp: func() (PDU, error) {
			return NewReadDeviceIDResponse(specDeviceID)
		},
		parseResp: func(p PDU) (any, error) { return ParseReadDeviceIDResponse(p) },
		wantResp:  specDeviceID,
	},
	{
		name: "FC43/14 more follows",
		req:  "2B 0E 02 00",
		resp: "2B 0E 02 82 FF 03 01 00 03 414243",
		encodeReq: func() (PDU, error) {
			return NewReadDeviceIDRequest(ReadDeviceIDRegular, 0)
		},
		parseReq: func(p PDU) (any, error) {
			c, o, err := ParseReadDeviceIDRequest(p)
			return devIDReq{c, o}, err
		},
		wantReq: devIDReq{2, 0},
		encodeResp: func() (PDU, error) {
			return NewReadDeviceIDResponse(DeviceIdentification{ReadCode: 2, ConformityLevel: 0x82, MoreFollows: true, NextObjectID: 3,
				Objects: []DeviceObject{{0, "ABC"}}})
		},
		parseResp: func(p PDU) (any, error) { return ParseReadDeviceIDResponse(p) },
		wantResp: DeviceIdentification{ReadCode: 2, ConformityLevel: 0x82, MoreFollows: true, NextObjectID: 3,
			Objects: []DeviceObject{{0, "ABC"}}},
	},
}

var specDeviceID = DeviceIdentification{
	ReadCode: 1, ConformityLevel: 1,
	Objects: []DeviceObject{{0, "Company identification"}, {1, "Product code XX"}, {2, "V2.11"}},
}

func TestSpecVectors(t *testing.T) {
	for _, v := range specVectors {
		t.Run(v.name, func(t *testing.T) {
			reqWire, respWire := pduBytes(t, v.req), pduBytes(t, v.resp)

			req, err := v.encodeReq()
			if err != nil {
				t.Fatalf("encode request: %v", err)
			}
			if got := wire(req); !bytes.Equal(got, reqWire) {
				t.Errorf("encode request = % X, want % X", got, reqWire)
			}
			gotReq, err := v.parseReq(toPDU(reqWire))
			if err != nil {
				t.Fatalf("parse request: %v", err)
			}
			if !reflect.DeepEqual(gotReq, v.wantReq) {
				t.Errorf("parse request = %+v, want %+v", gotReq, v.wantReq)
			}

			resp, err := v.encodeResp()
			if err != nil {
				t.Fatalf("encode response: %v", err)
			}
			if got := wire(resp); !bytes.Equal(got, respWire) {
				t.Errorf("encode response = % X, want % X", got, respWire)
			}
			gotResp, err := v.parseResp(toPDU(respWire))
			if err != nil {
				t.Fatalf("parse response: %v", err)
			}
			if !reflect.DeepEqual(gotResp, v.wantResp) {
				t.Errorf("parse response = %+v, want %+v", gotResp, v.wantResp)
			}
		})
	}
}

// TestSpecExceptionVector: V1.1b3 section 7 example, read coils at 1185
// answered with 81 02.
func TestSpecExceptionVector(t *testing.T) {
	req, err := NewReadRequest(FuncReadCoils, 0x04A1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := wire(req), pduBytes(t, "01 04A1 0001"); !bytes.Equal(got, want) {
		t.Errorf("request = % X, want % X", got, want)
	}
	resp := NewExceptionResponse(FuncReadCoils, IllegalDataAddress)
	if got, want := wire(resp), pduBytes(t, "81 02"); !bytes.Equal(got, want) {
		t.Errorf("exception response = % X, want % X", got, want)
	}
	_, err = ParseBitsResponse(toPDU(pduBytes(t, "81 02")), FuncReadCoils, 1)
	var ex *ExceptionError
	if !errors.As(err, &ex) || ex.Function != FuncReadCoils || ex.Code != IllegalDataAddress {
		t.Fatalf("parse exception = %v, want *ExceptionError{1, 2}", err)
	}
	if !errors.Is(err, ErrIllegalDataAddress) || errors.Is(err, ErrIllegalDataValue) {
		t.Errorf("errors.Is mismatch for %v", err)
	}
	if got, want := err.Error(), "modbus exception 2 (illegal data address) for function 1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestExceptionResponses(t *testing.T) {
	tests := []struct {
		resp     string
		parse    func(PDU) error
		sentinel error
	}{
		{"82 01", func(p PDU) error { _, err := ParseBitsResponse(p, 2, 1); return err }, ErrIllegalFunction},
		{"83 02", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 1); return err }, ErrIllegalDataAddress},
		{"84 03", func(p PDU) error { _, err := ParseRegistersResponse(p, 4, 1); return err }, ErrIllegalDataValue},
		{"85 04", func(p PDU) error { _, _, err := ParseWriteResponse(p, 5); return err }, ErrServerDeviceFailure},
		{"86 05", func(p PDU) error { _, _, err := ParseWriteResponse(p, 6); return err }, ErrAcknowledge},
		{"8F 06", func(p PDU) error { _, _, err := ParseWriteResponse(p, 15); return err }, ErrServerDeviceBusy},
		{"90 08", func(p PDU) error { _, _, err := ParseWriteResponse(p, 16); return err }, ErrMemoryParityError},
		{"97 0A", func(p PDU) error { _, err := ParseRegistersResponse(p, 23, 1); return err }, ErrGatewayPathUnavailable},
		{"AB 0B", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }, ErrGatewayTargetFailedToRespond},
	}
	for _, tt := range tests {
		t.Run(tt.resp, func(t *testing.T) {
			err := tt.parse(toPDU(pduBytes(t, tt.resp)))
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("got %v, want %v", err, tt.sentinel)
			}
			if errors.Is(err, ErrInvalidResponse) {
				t.Errorf("exception %v also matches ErrInvalidResponse", err)
			}
		})
	}
}

func TestExceptionCodeString(t *testing.T) {
	tests := map[ExceptionCode]string{
		IllegalFunction:              "illegal function",
		IllegalDataAddress:           "illegal data address",
		IllegalDataValue:             "illegal data value",
		ServerDeviceFailure:          "server device failure",
		Acknowledge:                  "acknowledge",
		ServerDeviceBusy:             "server device busy",
		MemoryParityError:            "memory parity error",
		GatewayPathUnavailable:       "gateway path unavailable",
		GatewayTargetFailedToRespond: "gateway target device failed to respond",
		0x42:                         "exception code 0x42",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("ExceptionCode(%d).String() = %q, want %q", byte(c), got, want)
		}
	}
}

func TestEncodeLimits(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr bool
		mention string
	}{
		{"read coils 2000", second(NewReadRequest(FuncReadCoils, 0, 2000)), false, ""},
		{"read coils 2001", second(NewReadRequest(FuncReadCoils, 0, 2001)), true, "MaxReadBits"},
		{"read coils 0", second(NewReadRequest(FuncReadCoils, 0, 0)), true, "MaxReadBits"},
		{"read inputs 2001", second(NewReadRequest(FuncReadDiscreteInputs, 0, 2001)), true, "MaxReadBits"},
		{"read holding 125", second(NewReadRequest(FuncReadHoldingRegisters, 0, 125)), false, ""},
		{"read holding 126", second(NewReadRequest(FuncReadHoldingRegisters, 0, 126)), true, "MaxReadRegisters"},
		{"read input 126", second(NewReadRequest(FuncReadInputRegisters, 0, 126)), true, "MaxReadRegisters"},
		{"read past 65535", second(NewReadRequest(FuncReadHoldingRegisters, 65535, 2)), true, "address space"},
		{"read last", second(NewReadRequest(FuncReadHoldingRegisters, 65535, 1)), false, ""},
		{"read with write fn", second(NewReadRequest(FuncWriteSingleCoil, 0, 1)), true, "not a read function"},
		{"write coils 1968", second(NewWriteMultipleCoilsRequest(0, make([]bool, 1968))), false, ""},
		{"write coils 1969", second(NewWriteMultipleCoilsRequest(0, make([]bool, 1969))), true, "MaxWriteBits"},
		{"write coils 0", second(NewWriteMultipleCoilsRequest(0, nil)), true, "MaxWriteBits"},
		{"write coils 70000", second(NewWriteMultipleCoilsRequest(0, make([]bool, 70000))), true, "MaxWriteBits"},
		{"write regs 123", second(NewWriteMultipleRegistersRequest(0, make([]uint16, 123))), false, ""},
		{"write regs 124", second(NewWriteMultipleRegistersRequest(0, make([]uint16, 124))), true, "MaxWriteRegisters"},
		{"write regs past end", second(NewWriteMultipleRegistersRequest(65535, make([]uint16, 2))), true, "address space"},
		{"rw read 126", second(NewReadWriteMultipleRegistersRequest(0, 126, 0, []uint16{1})), true, "MaxReadRegisters"},
		{"rw write 121", second(NewReadWriteMultipleRegistersRequest(0, 125, 0, make([]uint16, 121))), false, ""},
		{"rw write 122", second(NewReadWriteMultipleRegistersRequest(0, 1, 0, make([]uint16, 122))), true, "MaxReadWriteWriteRegisters"},
		{"rw write 0", second(NewReadWriteMultipleRegistersRequest(0, 1, 0, nil)), true, "MaxReadWriteWriteRegisters"},
		{"device id code 0", second(NewReadDeviceIDRequest(0, 0)), true, "1..4"},
		{"device id code 5", second(NewReadDeviceIDRequest(5, 0)), true, "1..4"},
	}
	for _, tt := range tests {
		if (tt.err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, tt.err, tt.wantErr)
			continue
		}
		if tt.err == nil {
			continue
		}
		if !errors.Is(tt.err, ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want ErrInvalidRequest", tt.name, tt.err)
		}
		if !strings.Contains(tt.err.Error(), tt.mention) {
			t.Errorf("%s: err = %q, want it to mention %q", tt.name, tt.err, tt.mention)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestParseRequestErrors checks that malformed requests give the exception
// the specification prescribes.
func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		req  string
		want ExceptionCode
	}{
		{"03 0000", IllegalDataValue},                     // short
		{"03 0000 0001 00", IllegalDataValue},             // long
		{"03 0000 0000", IllegalDataValue},                // quantity 0
		{"03 0000 007E", IllegalDataValue},                // quantity 126
		{"03 FFFF 0002", IllegalDataAddress},              // past the end
		{"01 0000 07D1", IllegalDataValue},                // 2001 coils
		{"05 0000 1234", IllegalDataValue},                // coil value
		{"05 0000", IllegalDataValue},                     // short
		{"06 0000 00", IllegalDataValue},                  // short
		{"0F 0013 000A 01 CD", IllegalDataValue},          // byte count too small
		{"0F 0013 000A 02 CD", IllegalDataValue},          // data short
		{"0F 0013 07B1 F7", IllegalDataValue},             // quantity 1969
		{"0F FFFF 0002 01 03", IllegalDataAddress},        // past the end
		{"10 0001 0002 03 000A 01", IllegalDataValue},     // byte count odd
		{"10 0001 0002 04 000A 01", IllegalDataValue},     // data short
		{"10 0001 007C F8", IllegalDataValue},             // quantity 124
		{"10 FFFF 0002 04 0000 0000", IllegalDataAddress}, // past the end
		{"17 0003 0006 000E 0003 06 00FF 00FF", IllegalDataValue},
		{"17 0003 007E 000E 0001 02 00FF", IllegalDataValue}, // read quantity 126
		{"17 0003 0001 000E 007A F4", IllegalDataValue},      // write quantity 122
		{"17 FFFF 0002 000E 0001 02 00FF", IllegalDataAddress},
		{"2B 0E 05 00", IllegalDataValue}, // read code 5
		{"2B 0E 01", IllegalDataValue},    // short
		{"2B 0D 01 00", IllegalFunction},  // CANopen MEI not supported
		{"2B", IllegalDataValue},
	}
	for _, tt := range tests {
		p := toPDU(pduBytes(t, tt.req))
		var err error
		switch p.Function {
		case 1, 2, 3, 4:
			_, _, err = ParseReadRequest(p)
		case 5:
			_, _, err = ParseWriteSingleCoilRequest(p)
		case 6:
			_, _, err = ParseWriteSingleRegisterRequest(p)
		case 15:
			_, _, err = ParseWriteMultipleCoilsRequest(p)
		case 16:
			_, _, err = ParseWriteMultipleRegistersRequest(p)
		case 23:
			_, _, _, _, err = ParseReadWriteMultipleRegistersRequest(p)
		case 43:
			_, _, err = ParseReadDeviceIDRequest(p)
		}
		var ex *ExceptionError
		if !errors.As(err, &ex) || ex.Code != tt.want || ex.Function != p.Function {
			t.Errorf("parse % X: err = %v, want exception %v for function %d", wire(p), err, tt.want, p.Function)
		}
	}
}

func TestParseResponseErrors(t *testing.T) {
	tests := []struct {
		name  string
		resp  string
		parse func(PDU) error
	}{
		{"bits wrong function", "02 01 00", func(p PDU) error { _, err := ParseBitsResponse(p, 1, 1); return err }},
		{"bits byte count", "01 02 00 00", func(p PDU) error { _, err := ParseBitsResponse(p, 1, 8); return err }},
		{"bits short", "01 02 00", func(p PDU) error { _, err := ParseBitsResponse(p, 1, 9); return err }},
		{"bits empty", "01", func(p PDU) error { _, err := ParseBitsResponse(p, 1, 9); return err }},
		{"regs byte count", "03 04 0000 0000", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 1); return err }},
		{"regs odd", "03 03 0000 00", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 2); return err }},
		{"regs trailing", "03 02 0000 00", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 1); return err }},
		{"exception of other function", "84 02", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 1); return err }},
		{"exception long", "83 02 00", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 1); return err }},
		{"exception short", "83", func(p PDU) error { _, err := ParseRegistersResponse(p, 3, 1); return err }},
		{"write short", "06 0001 00", func(p PDU) error { _, _, err := ParseWriteResponse(p, 6); return err }},
		{"device id MEI", "2B 0D 01 01 00 00 00", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }},
		{"device id short", "2B 0E 01 01 00", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }},
		{"device id more follows", "2B 0E 01 01 01 00 00", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }},
		{"device id truncated object", "2B 0E 01 01 00 00 01 00 05 4142", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }},
		{"device id missing object", "2B 0E 01 01 00 00 02 00 01 41", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }},
		{"device id trailing", "2B 0E 01 01 00 00 01 00 01 41 42", func(p PDU) error { _, err := ParseReadDeviceIDResponse(p); return err }},
	}
	for _, tt := range tests {
		err := tt.parse(toPDU(pduBytes(t, tt.resp)))
		if !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("%s: err = %v, want ErrInvalidResponse", tt.name, err)
		}
	}
}

func TestNewReadDeviceIDResponseTooLarge(t *testing.T) {
	_, err := NewReadDeviceIDResponse(DeviceIdentification{Objects: []DeviceObject{{0, strings.Repeat("x", 200)}, {1, strings.Repeat("y", 50)}}})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("err = %v, want ErrInvalidRequest", err)
	}
}

// TestBitsRoundTrip covers padding for every length around byte boundaries.
func TestBitsRoundTrip(t *testing.T) {
	for n := 1; n <= 17; n++ {
		in := make([]bool, n)
		for i := range in {
			in[i] = (i*7+n)%3 == 0
		}
		p := NewBitsResponse(FuncReadCoils, in)
		if got, want := len(p.Data), 1+(n+7)/8; got != want {
			t.Fatalf("n=%d: data length %d, want %d", n, got, want)
		}
		out, err := ParseBitsResponse(p, FuncReadCoils, uint16(n))
		if err != nil || !reflect.DeepEqual(out, in) {
			t.Fatalf("n=%d: got %v, %v, want %v", n, out, err, in)
		}
		req, err := NewWriteMultipleCoilsRequest(10, in)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := ParseWriteMultipleCoilsRequest(req)
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Fatalf("n=%d: write coils round trip got %v, %v, want %v", n, got, err, in)
		}
	}
}
