package modbus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"testing"
	"time"
)

// Seed corpora come from the specification's examples (specVectors) and a
// few malformed variants. `go test` runs only the seeds; fuzz with e.g.
// go test -run='^$' -fuzz='^FuzzRequestPDU$' -fuzztime=20s ./modbus/

func FuzzRequestPDU(f *testing.F) {
	for _, v := range specVectors {
		f.Add(pduBytes(f, v.req))
	}
	f.Add(pduBytes(f, "01 04A1 0001"))
	f.Add(pduBytes(f, "0F 0013 000A 02 CD"))
	f.Add(pduBytes(f, "2B 0E 04 80"))
	f.Add([]byte{0x10})

	mem := NewMemory()
	mem.SetRegisters(1, HoldingRegisters, 0, 1, 2, 3)
	mem.Restrict(2, HoldingRegisters, Range{0, 10}, Range{100, 10})
	mem.Restrict(2, Coils, Range{0, 100})
	mem.SetIdentification(1, map[byte]string{0: "vendor", 1: "product", 2: "1.0", 3: "url", 0x80: string(make([]byte, 200)), 0x81: "x"})

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		p := toPDU(b)
		checkRequestRoundTrip(t, p)

		// The server side: any request gets a response that fits a PDU,
		// or an exception.
		for _, unit := range []byte{1, 2} {
			resp, err := mem.HandleModbus(context.Background(), unit, PDU{p.Function, bytes.Clone(p.Data)})
			if err != nil {
				var ex *ExceptionError
				if !errors.As(err, &ex) {
					t.Fatalf("HandleModbus(% X) error %v is not an exception", b, err)
				}
				continue
			}
			if 1+len(resp.Data) > MaxPDUSize || resp.Function != p.Function {
				t.Fatalf("HandleModbus(% X) = function %d, %d bytes", b, resp.Function, 1+len(resp.Data))
			}
		}
	})
}

// checkRequestRoundTrip parses p with every request parser; what parses
// must encode back to an equivalent request.
func checkRequestRoundTrip(t *testing.T, p PDU) {
	exceptionOnly := func(err error) {
		var ex *ExceptionError
		if !errors.As(err, &ex) || ex.Function != p.Function {
			t.Fatalf("parse % X: error %v is not an exception for function %d", wire(p), err, p.Function)
		}
	}
	same := func(q PDU, err error) {
		if err != nil {
			t.Fatalf("re-encode % X: %v", wire(p), err)
		}
		if q.Function != p.Function || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("re-encode % X = % X", wire(p), wire(q))
		}
	}
	if addr, qty, err := ParseReadRequest(p); err == nil {
		same(NewReadRequest(p.Function, addr, qty))
	} else {
		exceptionOnly(err)
	}
	if addr, v, err := ParseWriteSingleCoilRequest(p); err == nil {
		same(NewWriteSingleCoilRequest(addr, v), nil)
	} else {
		exceptionOnly(err)
	}
	if addr, v, err := ParseWriteSingleRegisterRequest(p); err == nil {
		same(NewWriteSingleRegisterRequest(addr, v), nil)
	} else {
		exceptionOnly(err)
	}
	if addr, vs, err := ParseWriteMultipleCoilsRequest(p); err == nil {
		// Padding bits may differ; compare decoded values.
		q, err := NewWriteMultipleCoilsRequest(addr, vs)
		if err != nil {
			t.Fatalf("re-encode % X: %v", wire(p), err)
		}
		addr2, vs2, err := ParseWriteMultipleCoilsRequest(q)
		if err != nil || addr2 != addr || !reflect.DeepEqual(vs2, vs) {
			t.Fatalf("write coils round trip % X: %v", wire(p), err)
		}
	} else {
		exceptionOnly(err)
	}
	if addr, vs, err := ParseWriteMultipleRegistersRequest(p); err == nil {
		same(NewWriteMultipleRegistersRequest(addr, vs))
	} else {
		exceptionOnly(err)
	}
	if ra, rq, wa, vs, err := ParseReadWriteMultipleRegistersRequest(p); err == nil {
		same(NewReadWriteMultipleRegistersRequest(ra, rq, wa, vs))
	} else {
		exceptionOnly(err)
	}
	if code, obj, err := ParseReadDeviceIDRequest(p); err == nil {
		same(NewReadDeviceIDRequest(code, obj))
	} else {
		exceptionOnly(err)
	}
}

func FuzzResponsePDU(f *testing.F) {
	for _, v := range specVectors {
		req := toPDU(pduBytes(f, v.req))
		qty := uint16(0)
		if len(req.Data) >= 4 {
			qty = be16(req.Data[2:])
		}
		f.Add(qty, pduBytes(f, v.resp))
	}
	f.Add(uint16(1), pduBytes(f, "81 02"))
	f.Add(uint16(1), pduBytes(f, "83"))
	f.Add(uint16(0), pduBytes(f, "2B 0E 01 01 FF 02 05 00 03 41"))

	f.Fuzz(func(t *testing.T, qty uint16, b []byte) {
		if len(b) == 0 {
			return
		}
		p := toPDU(b)
		fn := p.Function &^ 0x80
		valid := func(err error) {
			var ex *ExceptionError
			if !errors.As(err, &ex) && !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("parse % X: error %v is neither an exception nor ErrInvalidResponse", b, err)
			}
		}
		if vs, err := ParseBitsResponse(p, fn, qty); err == nil {
			if len(vs) != int(qty) {
				t.Fatalf("ParseBitsResponse(% X, %d) returned %d bits", b, qty, len(vs))
			}
		} else {
			valid(err)
		}
		if vs, err := ParseRegistersResponse(p, fn, qty); err == nil {
			if q := NewRegistersResponse(fn, vs); len(vs) != int(qty) || !bytes.Equal(wire(q), b) {
				t.Fatalf("ParseRegistersResponse(% X, %d) = %v, re-encodes to % X", b, qty, vs, wire(q))
			}
		} else {
			valid(err)
		}
		if addr, v, err := ParseWriteResponse(p, fn); err == nil {
			if q := NewWriteResponse(fn, addr, v); !bytes.Equal(wire(q), b) {
				t.Fatalf("ParseWriteResponse(% X) re-encodes to % X", b, wire(q))
			}
		} else {
			valid(err)
		}
		if r, err := ParseReadDeviceIDResponse(p); err == nil {
			q, err := NewReadDeviceIDResponse(r)
			switch {
			case err != nil && len(b) <= MaxPDUSize:
				t.Fatalf("ParseReadDeviceIDResponse(% X) does not re-encode: %v", b, err)
			case err == nil && !bytes.Equal(wire(q), b):
				t.Fatalf("ParseReadDeviceIDResponse(% X) re-encodes to % X", b, wire(q))
			}
		} else {
			valid(err)
		}
	})
}

func FuzzMBAPFrame(f *testing.F) {
	for _, v := range specVectors {
		f.Add(appendTCPFrame(nil, 1, 0x11, toPDU(pduBytes(f, v.req))))
		f.Add(appendTCPFrame(nil, 0xFFFF, 0xFF, toPDU(pduBytes(f, v.resp))))
	}
	f.Add(pduBytes(f, "0001 0000 0000 01"))
	f.Add(pduBytes(f, "0001 0001 0003 01 81 02 0002 0000 0003 01 81 02"))

	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := parseTCPFrame(b)
		if err == nil {
			if h.ProtoID == 0 {
				if got := appendTCPFrame(nil, h.TxID, h.Unit, p); !bytes.Equal(got, b) {
					t.Fatalf("parseTCPFrame(% X) re-encodes to % X", b, got)
				}
			}
			if 1+len(p.Data) > MaxPDUSize {
				t.Fatalf("parseTCPFrame(% X): PDU of %d bytes", b, 1+len(p.Data))
			}
		}
		// A stream of frames: read until the first error, never past it.
		r := bytes.NewReader(b)
		var buf [maxTCPADU]byte
		for i := 0; ; i++ {
			h2, p2, err := readTCPFrame(r, &buf)
			if err != nil {
				break
			}
			if i == 0 && (h2.Length != uint16(2+len(p2.Data)) || h2.Length < mbapMinLength || h2.Length > mbapMaxLength) {
				t.Fatalf("readTCPFrame(% X): header %+v with %d data bytes", b, h2, len(p2.Data))
			}
		}
	})
}

// FuzzClientResponse feeds arbitrary bytes to a client as the device's
// reply (transaction id 1) and checks it returns a sane result promptly.
func FuzzClientResponse(f *testing.F) {
	for _, v := range specVectors {
		f.Add(appendTCPFrame(nil, 1, 1, toPDU(pduBytes(f, v.resp))))
	}
	f.Add(append(appendTCPFrame(nil, 0, 1, PDU{3, []byte{2, 0, 1}}), appendTCPFrame(nil, 1, 1, PDU{3, []byte{2, 0, 2}})...))
	f.Add(appendTCPFrame(nil, 1, 1, PDU{0x83, []byte{2}}))
	f.Add(pduBytes(f, "0001 0000 00"))

	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, reply []byte) {
		client, server := net.Pipe()
		tr := newTCPTransport("pipe", time.Second, log)
		tr.conn = client
		tr.br = bufio.NewReaderSize(client, 2*maxTCPADU)
		c := &Client{url: "pipe", timeout: time.Second, log: log, sem: make(chan struct{}, 1), tr: tr}

		done := make(chan struct{})
		go func() {
			defer close(done)
			var buf [maxTCPADU]byte
			if _, _, err := readTCPFrame(server, &buf); err != nil {
				return
			}
			_, _ = server.Write(reply)
			_ = server.Close()
		}()
		fn := byte(FuncReadHoldingRegisters)
		if len(reply) > mbapHeaderSize {
			fn = reply[mbapHeaderSize] &^ 0x80
		}
		var err error
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("client took %v for reply % X (timeout is 1s): %v", d, reply, err)
			}
		}()
		switch fn {
		case FuncReadCoils, FuncReadDiscreteInputs:
			_, err = c.ReadCoils(context.Background(), 1, 0x13, 19)
		case FuncWriteSingleCoil:
			err = c.WriteSingleCoil(context.Background(), 1, 0xAC, true)
		case FuncWriteMultipleRegisters:
			err = c.WriteMultipleRegisters(context.Background(), 1, 1, []uint16{1, 2})
		case FuncReadWriteMultipleRegisters:
			_, err = c.ReadWriteMultipleRegisters(context.Background(), 1, 3, 6, 14, []uint16{1})
		case FuncEncapsulatedInterface:
			_, err = c.ReadDeviceIdentification(context.Background(), 1, ReadDeviceIDBasic, 0)
		default:
			_, err = c.ReadHoldingRegisters(context.Background(), 1, 0x6B, 3)
		}
		_ = err // any error is fine; panics and hangs are not
		_ = c.Close()
		_ = server.Close()
		<-done
	})
}
