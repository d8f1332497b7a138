package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Client option defaults.
const (
	DefaultTimeout     = time.Second
	DefaultDialTimeout = 3 * time.Second
)

// ClientOptions configures a Client. The zero value is usable.
type ClientOptions struct {
	// Timeout bounds each request from sending it to receiving its
	// response; default DefaultTimeout (1s). A context deadline that comes
	// earlier wins.
	Timeout time.Duration
	// DialTimeout bounds connecting; default DefaultDialTimeout (3s).
	DialTimeout time.Duration
	// Logger receives debug logs about connections; default: discard.
	Logger *slog.Logger
	// MaxInFlight is how many requests may be outstanding at once on the
	// device's connection; default 1: requests are serialised. Values
	// above 1 are only for tcp:// devices that accept pipelined requests
	// (MBAP transaction ids tell the responses apart); NewClient refuses
	// them for serial lines and gateways. See "Several requests in flight"
	// in the package documentation.
	MaxInFlight int
}

// maxInFlightLimit bounds ClientOptions.MaxInFlight, far beyond what
// devices allow, below the 65536 transaction ids.
const maxInFlightLimit = 1024

// Client talks to one device URL. It is safe for concurrent use; requests
// are serialised, with at most one in flight (unless
// ClientOptions.MaxInFlight allows more on TCP). It connects lazily on the first
// request and reconnects after an I/O error or timeout: a timed-out
// connection is closed, so a late reply can never be taken as the answer to
// the next request, and replies with another transaction id are discarded.
// A request that fails because the device had closed an idle connection
// before the request reached it is retried once on a new connection.
type Client struct {
	url     string
	timeout time.Duration
	log     *slog.Logger

	// sem holds the right to use tr and closed; a channel rather than a
	// mutex so that waiting honours the caller's context.
	sem    chan struct{}
	tr     transport
	closed bool
	// broadcast: unit 0 is the serial line's broadcast address.
	broadcast bool
	// mux, when MaxInFlight > 1, carries every request instead of sem and
	// tr (which is then nil).
	mux *tcpMux
}

// NewClient returns a client for rawURL. It does not connect or open
// anything. Schemes:
//
//   - tcp://host[:port]: Modbus TCP (MBAP), port default 502.
//   - rtuovertcp://host:port: RTU frames over TCP to a serial gateway (no
//     MBAP; one request in flight; the connection is closed after any
//     error, since without transaction ids a late reply could pass for the
//     next answer).
//   - rtu:///dev/ttyUSB0?baud=9600&parity=N&databits=8&stopbits=1: RTU on
//     a serial port (or pty). Defaults per the specification: 19200 baud,
//     8 data bits, even parity, 1 stop bit (2 when parity=N and stopbits is
//     not given, as the specification asks).
//   - ascii:///dev/ttyUSB0?...: ASCII on a serial port; 7 data bits by
//     default, chartimeout (default 1s) bounds the gap between characters.
//
// Serial and gateway URLs also take turnaround (default 100ms): how long a
// broadcast (unit 0, write functions only) keeps the line before the next
// request. Unknown parameters are errors.
//
// Slaves on one RS-485 bus share its port: every Client created in this
// process for the same device path shares one open port and its lock, so
// one request at a time is on the line; they must use the same line
// settings. The port is opened on the first request, stale input is
// flushed before each request, and a port that fails (a USB adapter
// unplugged) is closed and reopened by a later request, with backoff
// (requests meanwhile fail with ErrPortUnavailable); the loss is logged
// once. The last Client to Close closes the port.
func NewClient(rawURL string, opts ClientOptions) (*Client, error) {
	ep, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout < 0 || opts.DialTimeout < 0 {
		return nil, fmt.Errorf("modbus client %s: negative timeout (timeout %v, dial timeout %v)", rawURL, opts.Timeout, opts.DialTimeout)
	}
	if opts.MaxInFlight < 0 || opts.MaxInFlight > maxInFlightLimit {
		return nil, fmt.Errorf("modbus client %s: MaxInFlight %d out of range 0..%d", rawURL, opts.MaxInFlight, maxInFlightLimit)
	}
	if opts.MaxInFlight > 1 && ep.scheme != schemeTCP {
		return nil, fmt.Errorf("modbus client %s: MaxInFlight %d needs a tcp:// device: %s framing has no transaction id, so only one request may be in flight", rawURL, opts.MaxInFlight, ep.scheme)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("modbus", rawURL)
	c := &Client{url: rawURL, timeout: opts.Timeout, log: log, sem: make(chan struct{}, 1)}
	switch ep.scheme {
	case schemeTCP:
		if opts.MaxInFlight > 1 {
			c.mux = newTCPMux(ep.addr, opts.DialTimeout, opts.MaxInFlight, log)
			break
		}
		c.tr = newTCPTransport(ep.addr, opts.DialTimeout, log)
	case schemeRTUOverTCP:
		c.broadcast = true
		c.tr = &lineTransport{
			name: ep.addr, holder: &gatewayConn{addr: ep.addr, dialTimeout: opts.DialTimeout, log: log},
			turnaround: ep.serial.turnaround, log: log, wbuf: make([]byte, 0, MaxRTUFrame),
		}
	case schemeRTU, schemeASCII:
		bus, err := acquireSerialBus(ep.path, ep.serial, log)
		if err != nil {
			return nil, fmt.Errorf("modbus client %s: %w", rawURL, err)
		}
		c.broadcast = true
		c.tr = &lineTransport{
			name: ep.path, ascii: ep.scheme == schemeASCII, holder: bus,
			turnaround: ep.serial.turnaround, charTimeout: ep.serial.charTimeout, log: log,
			wbuf: make([]byte, 0, MaxASCIIFrame),
		}
	default: // parseURL rejects the rest
		return nil, fmt.Errorf("modbus url %q: scheme %q not supported", rawURL, ep.scheme)
	}
	return c, nil
}

// URL returns the device URL the client was created with.
func (c *Client) URL() string { return c.url }

// Close closes the connection, waiting for a request in flight to end
// (with MaxInFlight > 1, outstanding requests fail with net.ErrClosed
// instead). Requests after Close fail.
func (c *Client) Close() error {
	if c.mux != nil {
		return c.mux.close()
	}
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.tr.close()
}

// do sends req to unit and passes the response to parse while it still
// holds the transport (the response may alias the transport's buffer).
func (c *Client) do(ctx context.Context, unit byte, req PDU, parse func(PDU) error) error {
	if err := ctx.Err(); err != nil {
		return ctxError(ctx, err)
	}
	if c.mux != nil {
		resp, err := c.mux.roundTrip(ctx, unit, req, c.timeout)
		if err != nil {
			return err
		}
		return parse(resp)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx, fmt.Errorf("waiting for request in flight: %w", ctx.Err()))
	}
	defer func() { <-c.sem }()
	if c.closed {
		return fmt.Errorf("client closed: %w", net.ErrClosed)
	}
	resp, err := c.tr.roundTrip(ctx, unit, req, c.timeout)
	if err != nil {
		return err
	}
	if unit == 0 && c.broadcast {
		return nil // a broadcast has no response
	}
	return parse(resp)
}

func (c *Client) readBits(ctx context.Context, fn byte, unit byte, addr, qty uint16) ([]bool, error) {
	req, err := NewReadRequest(fn, addr, qty)
	var out []bool
	if err == nil {
		err = c.do(ctx, unit, req, func(p PDU) (err error) {
			out, err = ParseBitsResponse(p, fn, qty)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("%s %d+%d from unit %d: %w", funcName(fn), addr, qty, unit, err)
	}
	return out, nil
}

func (c *Client) readRegisters(ctx context.Context, fn byte, unit byte, addr, qty uint16) ([]uint16, error) {
	req, err := NewReadRequest(fn, addr, qty)
	var out []uint16
	if err == nil {
		err = c.do(ctx, unit, req, func(p PDU) (err error) {
			out, err = ParseRegistersResponse(p, fn, qty)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("%s %d+%d from unit %d: %w", funcName(fn), addr, qty, unit, err)
	}
	return out, nil
}

// ReadCoils reads qty (1..MaxReadBits) coils from addr (FC 1).
func (c *Client) ReadCoils(ctx context.Context, unit byte, addr, qty uint16) ([]bool, error) {
	return c.readBits(ctx, FuncReadCoils, unit, addr, qty)
}

// ReadDiscreteInputs reads qty (1..MaxReadBits) discrete inputs from addr (FC 2).
func (c *Client) ReadDiscreteInputs(ctx context.Context, unit byte, addr, qty uint16) ([]bool, error) {
	return c.readBits(ctx, FuncReadDiscreteInputs, unit, addr, qty)
}

// ReadHoldingRegisters reads qty (1..MaxReadRegisters) holding registers
// from addr (FC 3).
func (c *Client) ReadHoldingRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error) {
	return c.readRegisters(ctx, FuncReadHoldingRegisters, unit, addr, qty)
}

// ReadInputRegisters reads qty (1..MaxReadRegisters) input registers from
// addr (FC 4).
func (c *Client) ReadInputRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error) {
	return c.readRegisters(ctx, FuncReadInputRegisters, unit, addr, qty)
}

// write sends a write request whose response echoes addr and want.
func (c *Client) write(ctx context.Context, unit byte, req PDU, addr, want uint16) error {
	return c.do(ctx, unit, req, func(p PDU) error {
		gotAddr, got, err := ParseWriteResponse(p, req.Function)
		if err != nil {
			return err
		}
		if gotAddr != addr || got != want {
			return responseError(req.Function, "echo %d/%d, want %d/%d", gotAddr, got, addr, want)
		}
		return nil
	})
}

// WriteSingleCoil sets the coil at addr (FC 5).
func (c *Client) WriteSingleCoil(ctx context.Context, unit byte, addr uint16, v bool) error {
	req := NewWriteSingleCoilRequest(addr, v)
	if err := c.write(ctx, unit, req, addr, be16(req.Data[2:])); err != nil {
		return fmt.Errorf("write single coil %d on unit %d: %w", addr, unit, err)
	}
	return nil
}

// WriteSingleRegister writes v to the holding register at addr (FC 6).
func (c *Client) WriteSingleRegister(ctx context.Context, unit byte, addr, v uint16) error {
	if err := c.write(ctx, unit, NewWriteSingleRegisterRequest(addr, v), addr, v); err != nil {
		return fmt.Errorf("write single register %d on unit %d: %w", addr, unit, err)
	}
	return nil
}

// WriteMultipleCoils writes vs (1..MaxWriteBits values) to the coils from
// addr (FC 15).
func (c *Client) WriteMultipleCoils(ctx context.Context, unit byte, addr uint16, vs []bool) error {
	req, err := NewWriteMultipleCoilsRequest(addr, vs)
	if err == nil {
		err = c.write(ctx, unit, req, addr, uint16(len(vs)))
	}
	if err != nil {
		return fmt.Errorf("write multiple coils %d+%d on unit %d: %w", addr, len(vs), unit, err)
	}
	return nil
}

// WriteMultipleRegisters writes vs (1..MaxWriteRegisters values) to the
// holding registers from addr (FC 16).
func (c *Client) WriteMultipleRegisters(ctx context.Context, unit byte, addr uint16, vs []uint16) error {
	req, err := NewWriteMultipleRegistersRequest(addr, vs)
	if err == nil {
		err = c.write(ctx, unit, req, addr, uint16(len(vs)))
	}
	if err != nil {
		return fmt.Errorf("write multiple registers %d+%d on unit %d: %w", addr, len(vs), unit, err)
	}
	return nil
}

// ReadWriteMultipleRegisters writes vs (1..MaxReadWriteWriteRegisters
// values) to the holding registers from writeAddr, then reads readQty
// (1..MaxReadRegisters) holding registers from readAddr, in one transaction
// (FC 23).
func (c *Client) ReadWriteMultipleRegisters(ctx context.Context, unit byte, readAddr, readQty, writeAddr uint16, vs []uint16) ([]uint16, error) {
	req, err := NewReadWriteMultipleRegistersRequest(readAddr, readQty, writeAddr, vs)
	var out []uint16
	if err == nil {
		err = c.do(ctx, unit, req, func(p PDU) (err error) {
			out, err = ParseRegistersResponse(p, FuncReadWriteMultipleRegisters, readQty)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read/write multiple registers (read %d+%d, write %d+%d) on unit %d: %w", readAddr, readQty, writeAddr, len(vs), unit, err)
	}
	return out, nil
}

// ReadDeviceIdentification reads the device identification objects (FC 43 /
// MEI 14) with the given access code (ReadDeviceIDBasic, Regular, Extended
// or Individual) starting at objectID. For stream access it follows "more
// follows" with further requests until the device has sent every object of
// the category. The map is keyed by object id (0 vendor name, 1 product
// code, 2 revision, ...).
func (c *Client) ReadDeviceIdentification(ctx context.Context, unit byte, readCode, objectID byte) (map[byte]string, error) {
	objects, err := c.readDeviceID(ctx, unit, readCode, objectID)
	if err != nil {
		return nil, fmt.Errorf("read device identification (code %d, object %d) from unit %d: %w", readCode, objectID, unit, err)
	}
	return objects, nil
}

func (c *Client) readDeviceID(ctx context.Context, unit byte, readCode, objectID byte) (map[byte]string, error) {
	objects := make(map[byte]string)
	var asked [256]bool
	next := objectID
	for {
		req, err := NewReadDeviceIDRequest(readCode, next)
		if err != nil {
			return nil, err
		}
		asked[next] = true
		var r DeviceIdentification
		err = c.do(ctx, unit, req, func(p PDU) (err error) {
			r, err = ParseReadDeviceIDResponse(p)
			return err
		})
		if err != nil {
			return nil, err
		}
		if r.ReadCode != readCode {
			return nil, responseError(FuncEncapsulatedInterface, "read device id code %d, want %d", r.ReadCode, readCode)
		}
		for _, o := range r.Objects {
			objects[o.ID] = o.Value
		}
		if readCode == ReadDeviceIDIndividual || !r.MoreFollows {
			return objects, nil
		}
		if asked[r.NextObjectID] {
			return nil, responseError(FuncEncapsulatedInterface, "more follows from object %d, which was already requested", r.NextObjectID)
		}
		next = r.NextObjectID
	}
}
