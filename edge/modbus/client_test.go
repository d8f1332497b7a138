package modbus

import (
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClientServerAllFunctions(t *testing.T) {
	checkAllFunctions(t, func(t *testing.T, h Handler) string { return startServer(t, h) })
}

// checkAllFunctions runs every function against a Memory served by serve,
// which returns the URL to reach it.
func checkAllFunctions(t *testing.T, serve func(t *testing.T, h Handler) string) {
	mem := NewMemory()
	mem.SetBits(1, Coils, 20, bits("1011001111010110101")...)
	mem.SetBits(1, DiscreteInputs, 197, bits("0011010111011011101011")...)
	mem.SetRegisters(1, HoldingRegisters, 108, 555, 0, 100)
	mem.SetRegisters(1, InputRegisters, 9, 10)
	mem.SetIdentification(1, map[byte]string{0: "GridEdge", 1: "SIM-1", 2: "V1.0", 0x80: "private"})
	var writes []string
	var mu sync.Mutex
	mem.OnWrite(func(unit byte, table Table, addr, qty uint16) {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, table.String())
	})

	c := newTestClient(t, serve(t, mem), ClientOptions{})
	ctx := context.Background()

	gotBits, err := c.ReadCoils(ctx, 1, 20, 19)
	if err != nil || !reflect.DeepEqual(gotBits, bits("1011001111010110101")) {
		t.Errorf("ReadCoils = %v, %v", gotBits, err)
	}
	gotBits, err = c.ReadDiscreteInputs(ctx, 1, 197, 22)
	if err != nil || !reflect.DeepEqual(gotBits, bits("0011010111011011101011")) {
		t.Errorf("ReadDiscreteInputs = %v, %v", gotBits, err)
	}
	gotRegs, err := c.ReadHoldingRegisters(ctx, 1, 108, 3)
	if err != nil || !reflect.DeepEqual(gotRegs, []uint16{555, 0, 100}) {
		t.Errorf("ReadHoldingRegisters = %v, %v", gotRegs, err)
	}
	gotRegs, err = c.ReadInputRegisters(ctx, 1, 9, 1)
	if err != nil || !reflect.DeepEqual(gotRegs, []uint16{10}) {
		t.Errorf("ReadInputRegisters = %v, %v", gotRegs, err)
	}
	// Unset addresses and other units read as zero.
	gotRegs, err = c.ReadHoldingRegisters(ctx, 7, 65410, 125)
	if err != nil || !reflect.DeepEqual(gotRegs, make([]uint16, 125)) {
		t.Errorf("ReadHoldingRegisters(unset) = %v, %v", gotRegs, err)
	}

	if err := c.WriteSingleCoil(ctx, 1, 173, true); err != nil {
		t.Errorf("WriteSingleCoil: %v", err)
	}
	if got := mem.Bits(1, Coils, 173, 1); !got[0] {
		t.Errorf("coil 173 = %v after write, want true", got)
	}
	if err := c.WriteSingleCoil(ctx, 1, 173, false); err != nil {
		t.Errorf("WriteSingleCoil: %v", err)
	}
	if got := mem.Bits(1, Coils, 173, 1); got[0] {
		t.Errorf("coil 173 = %v after write, want false", got)
	}
	if err := c.WriteSingleRegister(ctx, 1, 1, 3); err != nil {
		t.Errorf("WriteSingleRegister: %v", err)
	}
	if got := mem.Registers(1, HoldingRegisters, 1, 1); got[0] != 3 {
		t.Errorf("register 1 = %v, want 3", got)
	}
	if err := c.WriteMultipleCoils(ctx, 1, 0x13, bits("1011001110")); err != nil {
		t.Errorf("WriteMultipleCoils: %v", err)
	}
	if got := mem.Bits(1, Coils, 0x13, 10); !reflect.DeepEqual(got, bits("1011001110")) {
		t.Errorf("coils = %v after write", got)
	}
	if err := c.WriteMultipleRegisters(ctx, 1, 1, []uint16{0x000A, 0x0102}); err != nil {
		t.Errorf("WriteMultipleRegisters: %v", err)
	}
	if got := mem.Registers(1, HoldingRegisters, 1, 2); !reflect.DeepEqual(got, []uint16{0x000A, 0x0102}) {
		t.Errorf("registers = %v after write", got)
	}
	// FC 23 writes before it reads: the read range overlaps the write.
	mem.SetRegisters(1, HoldingRegisters, 3, 0xFE, 0xACD, 1, 3, 0xD, 0xFF)
	gotRegs, err = c.ReadWriteMultipleRegisters(ctx, 1, 3, 6, 7, []uint16{0x11, 0x22, 0x33})
	if want := []uint16{0xFE, 0xACD, 1, 3, 0x11, 0x22}; err != nil || !reflect.DeepEqual(gotRegs, want) {
		t.Errorf("ReadWriteMultipleRegisters = %v, %v, want %v", gotRegs, err, want)
	}
	if got := mem.Registers(1, HoldingRegisters, 9, 1); got[0] != 0x33 {
		t.Errorf("register 9 = %v after FC 23", got)
	}

	ident, err := c.ReadDeviceIdentification(ctx, 1, ReadDeviceIDBasic, 0)
	if want := map[byte]string{0: "GridEdge", 1: "SIM-1", 2: "V1.0"}; err != nil || !reflect.DeepEqual(ident, want) {
		t.Errorf("ReadDeviceIdentification(basic) = %v, %v, want %v", ident, err, want)
	}
	ident, err = c.ReadDeviceIdentification(ctx, 1, ReadDeviceIDExtended, 0)
	if want := map[byte]string{0: "GridEdge", 1: "SIM-1", 2: "V1.0", 0x80: "private"}; err != nil || !reflect.DeepEqual(ident, want) {
		t.Errorf("ReadDeviceIdentification(extended) = %v, %v, want %v", ident, err, want)
	}
	ident, err = c.ReadDeviceIdentification(ctx, 1, ReadDeviceIDIndividual, 1)
	if want := map[byte]string{1: "SIM-1"}; err != nil || !reflect.DeepEqual(ident, want) {
		t.Errorf("ReadDeviceIdentification(individual) = %v, %v, want %v", ident, err, want)
	}

	mu.Lock()
	defer mu.Unlock()
	if want := []string{"coils", "coils", "holding registers", "coils", "holding registers", "holding registers"}; !reflect.DeepEqual(writes, want) {
		t.Errorf("OnWrite calls = %v, want %v", writes, want)
	}
}

func TestClientDeviceIdentificationMoreFollows(t *testing.T) {
	mem := NewMemory()
	objects := map[byte]string{0: "Vendor", 1: "Product", 2: "1.2"}
	for id := byte(3); id <= 6; id++ {
		objects[id] = strings.Repeat(string('a'+rune(id)), 120) // 4x122 bytes: needs 3 responses
	}
	for id := byte(0x80); id < 0x85; id++ {
		objects[id] = strings.Repeat("x", 244)
	}
	mem.SetIdentification(1, objects)
	var requests atomic.Int32
	h := HandlerFunc(func(ctx context.Context, unit byte, req PDU) (PDU, error) {
		requests.Add(1)
		return mem.HandleModbus(ctx, unit, req)
	})
	c := newTestClient(t, startServer(t, h), ClientOptions{})

	got, err := c.ReadDeviceIdentification(context.Background(), 1, ReadDeviceIDRegular, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[byte]string{}
	for id, v := range objects {
		if id < 0x80 {
			want[id] = v
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("regular objects = %v, want %v", got, want)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	got, err = c.ReadDeviceIdentification(context.Background(), 1, ReadDeviceIDExtended, 0)
	if err != nil || !reflect.DeepEqual(got, objects) {
		t.Errorf("extended objects = %v, %v, want all %d", len(got), err, len(objects))
	}
	// An unknown start object restarts at the first one.
	got, err = c.ReadDeviceIdentification(context.Background(), 1, ReadDeviceIDBasic, 0x42)
	if want := map[byte]string{0: "Vendor", 1: "Product", 2: "1.2"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("basic from unknown object = %v, %v, want %v", got, err, want)
	}
}

func TestClientExceptions(t *testing.T) {
	mem := NewMemory()
	mem.Restrict(1, HoldingRegisters, Range{0, 10}, Range{20, 10}, Range{10, 5})
	mem.Restrict(1, Coils, Range{100, 8})
	mem.Restrict(1, InputRegisters) // nothing valid
	mem.SetIdentification(2, map[byte]string{0: "v", 1: "p", 2: "r"})
	c := newTestClient(t, startServer(t, mem), ClientOptions{})
	ctx := context.Background()

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"read inside merged ranges", func() error { _, err := c.ReadHoldingRegisters(ctx, 1, 0, 15); return err }, nil},
		{"read across gap", func() error { _, err := c.ReadHoldingRegisters(ctx, 1, 0, 30); return err }, ErrIllegalDataAddress},
		{"read in gap", func() error { _, err := c.ReadHoldingRegisters(ctx, 1, 16, 1); return err }, ErrIllegalDataAddress},
		{"read second range", func() error { _, err := c.ReadHoldingRegisters(ctx, 1, 20, 10); return err }, nil},
		{"read past range", func() error { _, err := c.ReadHoldingRegisters(ctx, 1, 25, 6); return err }, ErrIllegalDataAddress},
		{"write in gap", func() error { return c.WriteSingleRegister(ctx, 1, 17, 1) }, ErrIllegalDataAddress},
		{"write multiple across gap", func() error { return c.WriteMultipleRegisters(ctx, 1, 14, []uint16{1, 2}) }, ErrIllegalDataAddress},
		{"rw read in gap", func() error {
			_, err := c.ReadWriteMultipleRegisters(ctx, 1, 16, 1, 0, []uint16{1})
			return err
		}, ErrIllegalDataAddress},
		{"rw write in gap", func() error {
			_, err := c.ReadWriteMultipleRegisters(ctx, 1, 0, 1, 16, []uint16{1})
			return err
		}, ErrIllegalDataAddress},
		{"coil ok", func() error { return c.WriteSingleCoil(ctx, 1, 107, true) }, nil},
		{"coil outside", func() error { return c.WriteSingleCoil(ctx, 1, 108, true) }, ErrIllegalDataAddress},
		{"coils outside", func() error { _, err := c.ReadCoils(ctx, 1, 99, 2); return err }, ErrIllegalDataAddress},
		{"input registers empty", func() error { _, err := c.ReadInputRegisters(ctx, 1, 0, 1); return err }, ErrIllegalDataAddress},
		{"other unit unrestricted", func() error { _, err := c.ReadInputRegisters(ctx, 2, 0, 1); return err }, nil},
		{"no identification", func() error {
			_, err := c.ReadDeviceIdentification(ctx, 1, ReadDeviceIDBasic, 0)
			return err
		}, ErrIllegalFunction},
		{"individual object missing", func() error {
			_, err := c.ReadDeviceIdentification(ctx, 2, ReadDeviceIDIndividual, 9)
			return err
		}, ErrIllegalDataAddress},
	}
	for _, tt := range tests {
		err := tt.call()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		var ex *ExceptionError
		if !errors.As(err, &ex) {
			t.Errorf("%s: err %v is not an *ExceptionError", tt.name, err)
		}
	}

	_, err := c.ReadHoldingRegisters(ctx, 3, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	mem.Restrict(3, HoldingRegisters, Range{200, 1})
	_, err = c.ReadHoldingRegisters(ctx, 3, 100, 10)
	if want := "read holding registers 100+10 from unit 3: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}
}

func TestClientIllegalFunction(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, unit byte, req PDU) (PDU, error) {
		switch req.Function {
		case FuncReadHoldingRegisters:
			return PDU{}, ErrServerDeviceBusy // a sentinel works too
		case FuncReadInputRegisters:
			return PDU{}, errors.New("sensor broken")
		case FuncReadCoils:
			panic("handler bug")
		}
		return PDU{}, &ExceptionError{Function: req.Function, Code: IllegalFunction}
	})
	c := newTestClient(t, startServer(t, h), ClientOptions{})
	ctx := context.Background()
	if err := c.WriteSingleRegister(ctx, 1, 1, 1); !errors.Is(err, ErrIllegalFunction) {
		t.Errorf("err = %v, want ErrIllegalFunction", err)
	}
	if _, err := c.ReadHoldingRegisters(ctx, 1, 1, 1); !errors.Is(err, ErrServerDeviceBusy) {
		t.Errorf("err = %v, want ErrServerDeviceBusy", err)
	}
	if _, err := c.ReadInputRegisters(ctx, 1, 1, 1); !errors.Is(err, ErrServerDeviceFailure) {
		t.Errorf("err = %v, want ErrServerDeviceFailure", err)
	}
	if _, err := c.ReadCoils(ctx, 1, 1, 1); !errors.Is(err, ErrServerDeviceFailure) {
		t.Errorf("err = %v, want ErrServerDeviceFailure after handler panic", err)
	}
}

func TestMemoryUnits(t *testing.T) {
	mem := NewMemory()
	mem.SetUnits(1, 2)
	c := newTestClient(t, startServer(t, mem), ClientOptions{Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	if _, err := c.ReadHoldingRegisters(ctx, 2, 0, 1); err != nil {
		t.Fatalf("configured unit: %v", err)
	}
	if _, err := c.ReadHoldingRegisters(ctx, 3, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Errorf("unknown unit: err = %v, want ErrTimeout (no response)", err)
	}
	mem.SetUnknownUnitResponse(GatewayTargetFailedToRespond)
	if _, err := c.ReadHoldingRegisters(ctx, 3, 0, 1); !errors.Is(err, ErrGatewayTargetFailedToRespond) {
		t.Errorf("unknown unit: err = %v, want ErrGatewayTargetFailedToRespond", err)
	}
	mem.SetUnknownUnitResponse(GatewayPathUnavailable)
	if err := c.WriteSingleRegister(ctx, 4, 0, 1); !errors.Is(err, ErrGatewayPathUnavailable) {
		t.Errorf("unknown unit: err = %v, want ErrGatewayPathUnavailable", err)
	}
	mem.SetUnits()
	if _, err := c.ReadHoldingRegisters(ctx, 3, 0, 1); err != nil {
		t.Errorf("all units again: %v", err)
	}
}

func TestClientConcurrentCallers(t *testing.T) {
	mem := NewMemory()
	const callers, perCaller = 16, 50
	for g := range callers {
		for i := range perCaller {
			mem.SetRegisters(byte(g+1), HoldingRegisters, uint16(i*2), uint16(g), uint16(i))
		}
	}
	c := newTestClient(t, startServer(t, mem), ClientOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, callers*perCaller)
	for g := range callers {
		wg.Go(func() {
			for i := range perCaller {
				got, err := c.ReadHoldingRegisters(context.Background(), byte(g+1), uint16(i*2), 2)
				if err != nil {
					errs <- err
					continue
				}
				if got[0] != uint16(g) || got[1] != uint16(i) {
					errs <- errors.New("mixed up response")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// silentFirstListener holds the first accepted connection open without
// ever answering and hands later ones to the Server.
type silentFirstListener struct {
	net.Listener
	once   sync.Once
	closed chan error // receives drain's result for the silent connection
}

func (l *silentFirstListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		first := false
		l.once.Do(func() { first = true })
		if !first {
			return c, nil
		}
		go func() {
			err := drain(c)
			_ = c.Close()
			l.closed <- err
		}()
	}
}

func TestClientTimeoutThenReconnect(t *testing.T) {
	mem := NewMemory()
	mem.SetRegisters(1, HoldingRegisters, 0, 42)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := &silentFirstListener{Listener: l, closed: make(chan error, 1)}
	url := serveOn(t, &Server{Handler: mem, Logger: testLogger(t)}, sl)
	c := newTestClient(t, url, ClientOptions{Timeout: 150 * time.Millisecond})

	start := time.Now()
	_, err = c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
	// The timed-out connection must have been closed by the client.
	select {
	case err := <-sl.closed:
		if err != nil {
			t.Errorf("silent connection ended with %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("client did not close the timed-out connection")
	}
	got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err != nil || got[0] != 42 {
		t.Fatalf("after reconnect: %v, %v", got, err)
	}
}

// TestClientLateReply: a reply that arrives after the timeout must never
// be taken as the answer to the next request.
func TestClientLateReply(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, unit byte, req PDU) (PDU, error) {
		if calls.Add(1) == 1 {
			<-release
			return NewRegistersResponse(req.Function, []uint16{1111}), nil
		}
		return NewRegistersResponse(req.Function, []uint16{2222}), nil
	})
	c := newTestClient(t, startServer(t, h), ClientOptions{Timeout: 100 * time.Millisecond})
	if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	close(release)
	for range 3 {
		got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
		if err != nil || got[0] != 2222 {
			t.Fatalf("got %v, %v, want [2222]", got, err)
		}
	}
}

func TestClientSkipsStaleTransactionID(t *testing.T) {
	url := fakeServer(t, func(conn net.Conn, _ int) {
		for {
			h, _, err := readRequest(conn)
			if err != nil {
				return
			}
			var out []byte
			// A stale reply first (earlier transaction id, other data), then ours.
			out = appendTCPFrame(out, h.TxID-1, h.Unit, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{0xDEAD}))
			out = appendTCPFrame(out, h.TxID+7, h.Unit, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{0xBEEF}))
			out = appendTCPFrame(out, h.TxID, h.Unit, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{7}))
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	})
	c := newTestClient(t, url, ClientOptions{})
	for range 3 {
		got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
		if err != nil || got[0] != 7 {
			t.Fatalf("got %v, %v, want [7]", got, err)
		}
	}
}

func TestClientMalformedResponses(t *testing.T) {
	type reply func(h mbapHeader) []byte
	frame := func(fn byte, data ...byte) reply {
		return func(h mbapHeader) []byte { return appendTCPFrame(nil, h.TxID, h.Unit, PDU{fn, data}) }
	}
	raw := func(f func(h mbapHeader) []byte) reply { return f }
	tests := []struct {
		name  string
		reply reply
		call  func(c *Client) error
	}{
		{"wrong function", frame(4, 2, 0, 1), readHolding},
		{"byte count too large", frame(3, 4, 0, 1, 0, 2), readHolding},
		{"byte count wrong", frame(3, 4, 0, 1), readHolding},
		{"empty data", frame(3), readHolding},
		{"exception without code", frame(0x83), readHolding},
		{"write echo address", frame(6, 0, 9, 0, 1), func(c *Client) error { return c.WriteSingleRegister(context.Background(), 1, 1, 1) }},
		{"write echo value", frame(6, 0, 1, 0, 2), func(c *Client) error { return c.WriteSingleRegister(context.Background(), 1, 1, 1) }},
		{"coil echo", frame(5, 0, 1, 0, 0), func(c *Client) error { return c.WriteSingleCoil(context.Background(), 1, 1, true) }},
		{"write multiple echo quantity", frame(16, 0, 1, 0, 3), func(c *Client) error {
			return c.WriteMultipleRegisters(context.Background(), 1, 1, []uint16{1, 2})
		}},
		{"device id read code", frame(43, 0x0E, 2, 1, 0, 0, 0), func(c *Client) error {
			_, err := c.ReadDeviceIdentification(context.Background(), 1, 1, 0)
			return err
		}},
		{"device id loop", frame(43, 0x0E, 1, 1, 0xFF, 0, 0), func(c *Client) error {
			_, err := c.ReadDeviceIdentification(context.Background(), 1, 1, 0)
			return err
		}},
		{"wrong unit", raw(func(h mbapHeader) []byte {
			return appendTCPFrame(nil, h.TxID, h.Unit+1, NewRegistersResponse(3, []uint16{1}))
		}), readHolding},
		{"protocol id", raw(func(h mbapHeader) []byte {
			b := appendTCPFrame(nil, h.TxID, h.Unit, NewRegistersResponse(3, []uint16{1}))
			b[3] = 1
			return b
		}), readHolding},
		{"length zero", raw(func(h mbapHeader) []byte {
			return []byte{byte(h.TxID >> 8), byte(h.TxID), 0, 0, 0, 0, h.Unit}
		}), readHolding},
		{"length one", raw(func(h mbapHeader) []byte {
			return []byte{byte(h.TxID >> 8), byte(h.TxID), 0, 0, 0, 1, h.Unit}
		}), readHolding},
		{"length too large", raw(func(h mbapHeader) []byte {
			b := []byte{byte(h.TxID >> 8), byte(h.TxID), 0, 0, 0x01, 0x2C, h.Unit}
			return append(b, make([]byte, 299)...)
		}), readHolding},
		{"truncated body then close", raw(func(h mbapHeader) []byte {
			b := appendTCPFrame(nil, h.TxID, h.Unit, NewRegistersResponse(3, []uint16{1}))
			return b[:len(b)-1]
		}), readHolding},
		{"truncated header then close", raw(func(h mbapHeader) []byte {
			return []byte{byte(h.TxID >> 8), byte(h.TxID), 0}
		}), readHolding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fakeServer(t, func(conn net.Conn, _ int) {
				defer conn.Close()
				h, _, err := readRequest(conn)
				if err != nil {
					return
				}
				_, _ = conn.Write(tt.reply(h))
			})
			c := newTestClient(t, url, ClientOptions{Timeout: 2 * time.Second})
			done := make(chan error, 1)
			go func() { done <- tt.call(c) }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrInvalidResponse) {
					t.Errorf("err = %v, want ErrInvalidResponse", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("client hung")
			}
		})
	}
}

func readHolding(c *Client) error {
	_, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	return err
}

func TestClientContext(t *testing.T) {
	// A server that reads requests and never answers.
	url := fakeServer(t, func(conn net.Conn, _ int) { _ = drain(conn) })
	c := newTestClient(t, url, ClientOptions{Timeout: 10 * time.Second})

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.ReadHoldingRegisters(ctx, 1, 0, 1)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err = c.ReadHoldingRegisters(ctx, 1, 0, 1)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: err = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}

	// Already-cancelled contexts fail before sending.
	_, err = c.ReadHoldingRegisters(ctx, 1, 0, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired: err = %v, want context.DeadlineExceeded", err)
	}
}

// TestClientWaitHonoursContext: a caller queued behind a slow request gives
// up when its context ends.
func TestClientWaitHonoursContext(t *testing.T) {
	url := fakeServer(t, func(conn net.Conn, _ int) { _ = drain(conn) })
	c := newTestClient(t, url, ClientOptions{Timeout: 500 * time.Millisecond})
	started := make(chan struct{})
	go func() {
		close(started)
		_, _ = c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ReadHoldingRegisters(ctx, 1, 0, 1)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v", d)
	}
	_ = c.Close() // waits for the slow request
}

func TestClientValidatesBeforeSending(t *testing.T) {
	var accepted atomic.Int32
	url := fakeServer(t, func(conn net.Conn, _ int) { accepted.Add(1); _ = drain(conn) })
	c := newTestClient(t, url, ClientOptions{Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	tests := []struct {
		name    string
		err     error
		mention string
	}{
		{"coils", second(c.ReadCoils(ctx, 1, 0, 2001)), "MaxReadBits"},
		{"inputs", second(c.ReadDiscreteInputs(ctx, 1, 0, 0)), "MaxReadBits"},
		{"holding", second(c.ReadHoldingRegisters(ctx, 1, 0, 126)), "MaxReadRegisters"},
		{"input", second(c.ReadInputRegisters(ctx, 1, 65535, 2)), "address space"},
		{"write coils", c.WriteMultipleCoils(ctx, 1, 0, make([]bool, 1969)), "MaxWriteBits"},
		{"write registers", c.WriteMultipleRegisters(ctx, 1, 0, make([]uint16, 124)), "MaxWriteRegisters"},
		{"write no registers", c.WriteMultipleRegisters(ctx, 1, 0, nil), "MaxWriteRegisters"},
		{"rw", second(c.ReadWriteMultipleRegisters(ctx, 1, 0, 1, 0, make([]uint16, 122))), "MaxReadWriteWriteRegisters"},
		{"device id", second(c.ReadDeviceIdentification(ctx, 1, 9, 0)), "1..4"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalidRequest) || !strings.Contains(tt.err.Error(), tt.mention) {
			t.Errorf("%s: err = %v, want ErrInvalidRequest naming %s", tt.name, tt.err, tt.mention)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("client connected %d times for invalid requests", n)
	}
}

// TestClientRedialsAfterIdleClose: devices drop idle connections; the next
// request must transparently use a new one.
func TestClientRedialsAfterIdleClose(t *testing.T) {
	mem := NewMemory()
	mem.SetRegisters(1, HoldingRegisters, 5, 55)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := serveOn(t, &Server{Handler: mem, Logger: testLogger(t), IdleTimeout: 50 * time.Millisecond}, l)
	c := newTestClient(t, url, ClientOptions{})
	for range 3 {
		got, err := c.ReadHoldingRegisters(context.Background(), 1, 5, 1)
		if err != nil || got[0] != 55 {
			t.Fatalf("got %v, %v", got, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func TestClientDialError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c := newTestClient(t, "tcp://"+addr, ClientOptions{})
	_, err = c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "dial") {
		t.Errorf("err = %v, want dial error", err)
	}
}

func TestClientClose(t *testing.T) {
	c := newTestClient(t, startServer(t, NewMemory()), ClientOptions{})
	if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: err = %v, want net.ErrClosed", err)
	}
}

func TestNewClientURL(t *testing.T) {
	tests := []struct {
		url, addr, err string
	}{
		{url: "tcp://127.0.0.1:5020", addr: "127.0.0.1:5020"},
		{url: "tcp://plc.local", addr: "plc.local:502"},
		{url: "TCP://plc.local/", addr: "plc.local:502"},
		{url: "tcp://[::1]:1502", addr: "[::1]:1502"},
		{url: "tcp://[::1]", addr: "[::1]:502"},
		{url: "udp://host:502", err: `unknown scheme "udp"`},
		{url: "host:502", err: "unknown scheme"},
		{url: "127.0.0.1:502", err: "127.0.0.1:502"},
		{url: "", err: "missing scheme"},
		{url: "tcp://", err: "want tcp://host"},
		{url: "tcp://host:99999", err: "out of range"},
		{url: "tcp://host:", err: "empty port"},
		{url: "tcp://host:502/x", err: "unexpected"},
		{url: "tcp://u:p@host:502", err: "unexpected"},
		{url: "tcp://host:502?unit=1", err: "unexpected"},
	}
	for _, tt := range tests {
		c, err := NewClient(tt.url, ClientOptions{})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NewClient(%q) err = %v, want it to contain %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewClient(%q): %v", tt.url, err)
			continue
		}
		if got := c.tr.(*tcpTransport).addr; got != tt.addr {
			t.Errorf("NewClient(%q) addr = %q, want %q", tt.url, got, tt.addr)
		}
		if c.URL() != tt.url {
			t.Errorf("URL() = %q, want %q", c.URL(), tt.url)
		}
	}
	if _, err := NewClient("tcp://h", ClientOptions{Timeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
}

// TestClientFrames checks the exact bytes the client sends.
func TestClientFrames(t *testing.T) {
	got := make(chan []byte, 1)
	url := fakeServer(t, func(conn net.Conn, _ int) {
		buf := make([]byte, maxTCPADU)
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		got <- buf[:n]
		_ = drain(conn) // no reply; let it time out
	})
	c := newTestClient(t, url, ClientOptions{Timeout: 50 * time.Millisecond})
	_, _ = c.ReadHoldingRegisters(context.Background(), 0x11, 0x6B, 3)
	// Transaction 1, protocol 0, length 6, unit 0x11, PDU 03 006B 0003.
	want := pduBytes(t, "0001 0000 0006 11 03 006B 0003")
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("frame = % X, want % X", b, want)
	}
}
