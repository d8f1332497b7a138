// Package modbus implements the Modbus application protocol (V1.1b3) over
// Modbus TCP (Messaging on TCP/IP Implementation Guide V1.0b) and over
// serial lines (Modbus over Serial Line V1.02: RTU and ASCII, on serial
// ports through go.bug.st/serial, and RTU over TCP for serial gateways): a
// PDU codec, a client for polling devices and a server with an in-memory
// device image used as simulator and test peer.
//
// The package is layered:
//
//   - pdu.go: pure encode/decode functions for every supported function
//     code, request and response side, with the protocol's validation rules.
//     Request parsers return *ExceptionError values so a server can answer
//     with the right exception code.
//   - tcp.go: MBAP framing (transaction id, protocol id, length, unit id)
//     and the client's TCP transport.
//   - client.go: Client, which validates arguments, serialises requests and
//     maps responses to Go values and typed errors.
//   - tcpmux.go: the Modbus TCP transport with several requests in flight.
//   - server.go, memory.go: Server, Handler and Memory.
//   - rtu.go, ascii.go: RTU framing (CRC-16, frame length from the
//     function code, t1.5/t3.5 timing, LineTime) and ASCII framing (LRC),
//     and their stream readers for both sides of a line.
//   - line.go, serialbus.go, serial.go: a line (serial port or gateway
//     connection) with its timing, the registry that lets every Client of
//     one serial port share it, and the client's serial-line transport
//     (broadcast on unit 0, reopening unplugged adapters).
//   - server_serial.go: the Server on serial ports and RTU over TCP.
//   - url.go: the one place device URLs are parsed (tcp://, rtuovertcp://,
//     rtu:///dev/..., ascii:///dev/...) with their serial parameters.
//
// Serial line timing: frames whose length the function code tells (every
// supported function and every exception) end as soon as their last byte
// is in, so a client never waits for a silence; t3.5 is kept between
// frames on the line. Silence ends only frames of unknown length and
// discards interrupted ones, with a floor of 20 ms because a Linux tty,
// and USB adapters even more, cannot time single characters (see
// silenceFloor); the CRC rejects what the timer cannot.
//
// Several requests in flight: by default a Client has one request
// outstanding at a time, on every transport. ClientOptions.MaxInFlight = N
// > 1 (tcp:// only: serial framing has no transaction id) lets up to N
// requests be outstanding on the device's one connection, for devices that
// accept pipelined requests (the Server does: it answers the requests of a
// connection in order). A request takes one of N slots, then, under a lock
// that also serialises dialling, registers a call under a fresh
// transaction id and writes its frame. A reader goroutine per connection
// hands each response to the call with its transaction id, whatever the
// order; a response with an unknown id (a late reply to a request that
// timed out or was cancelled) is discarded. A request that times out or
// whose context ends fails alone and forgets its id. But when a request
// times out and nothing at all has come back since it was sent, the device
// is taken to be gone: the connection is closed, every outstanding request
// fails with an error wrapping ErrTimeout, and the next request dials
// again. A connection that fails (closed by the device, malformed frame)
// fails every outstanding request the same way; the reader goroutine ends
// with its connection, and Close fails outstanding requests with
// net.ErrClosed and waits for it.
//
// Errors: exception responses are *ExceptionError values that match the
// sentinels ErrIllegalDataAddress etc. with errors.Is; a request with no
// valid answer in time wraps ErrTimeout; a malformed or mismatched response
// wraps ErrInvalidResponse; arguments outside the protocol limits wrap
// ErrInvalidRequest and are never sent; a serial port that cannot be opened
// or failed wraps ErrPortUnavailable.
package modbus
