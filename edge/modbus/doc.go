// Package modbus implements the Modbus application protocol (V1.1b3) with a
// Modbus TCP transport (Messaging on TCP/IP Implementation Guide V1.0b): a
// PDU codec, a client for polling devices and a server with an in-memory
// device image used as simulator and test peer.
//
// The package is layered so that further transports (RTU, ASCII,
// RTU-over-TCP, serial ports) slot in without touching the rest:
//
//   - pdu.go: pure encode/decode functions for every supported function
//     code, request and response side, with the protocol's validation rules.
//     Request parsers return *ExceptionError values so a server can answer
//     with the right exception code.
//   - tcp.go: MBAP framing (transaction id, protocol id, length, unit id)
//     and the client's TCP transport.
//   - client.go: Client, which validates arguments, serialises requests and
//     maps responses to Go values and typed errors.
//   - server.go, memory.go: Server, Handler and Memory.
//   - url.go: the one place device URLs ("tcp://host:502") are parsed.
//
// Errors: exception responses are *ExceptionError values that match the
// sentinels ErrIllegalDataAddress etc. with errors.Is; a request with no
// valid answer in time wraps ErrTimeout; a malformed or mismatched response
// wraps ErrInvalidResponse; arguments outside the protocol limits wrap
// ErrInvalidRequest and are never sent.
package modbus
