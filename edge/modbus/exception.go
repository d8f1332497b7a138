package modbus

import (
	"errors"
	"fmt"
)

// ExceptionCode is the code carried by a Modbus exception response
// (Modbus Application Protocol V1.1b3, section 7).
type ExceptionCode byte

// Exception codes defined by the Modbus application protocol.
const (
	// IllegalFunction: the function code is not supported by the server.
	IllegalFunction ExceptionCode = 0x01
	// IllegalDataAddress: the data address (or address+quantity) is not
	// allowed by the server.
	IllegalDataAddress ExceptionCode = 0x02
	// IllegalDataValue: a value in the request is not allowed, or the
	// request's implied length is wrong.
	IllegalDataValue ExceptionCode = 0x03
	// ServerDeviceFailure: an unrecoverable error occurred while the server
	// was performing the action.
	ServerDeviceFailure ExceptionCode = 0x04
	// Acknowledge: the server accepted a long-running request.
	Acknowledge ExceptionCode = 0x05
	// ServerDeviceBusy: the server is busy; retry later.
	ServerDeviceBusy ExceptionCode = 0x06
	// MemoryParityError: the server detected a parity error in extended memory.
	MemoryParityError ExceptionCode = 0x08
	// GatewayPathUnavailable: a gateway could not allocate a path to the target.
	GatewayPathUnavailable ExceptionCode = 0x0A
	// GatewayTargetFailedToRespond: a gateway got no response from the target device.
	GatewayTargetFailedToRespond ExceptionCode = 0x0B
)

// String returns the specification's name of the exception code in lower
// case, e.g. "illegal data address".
func (c ExceptionCode) String() string {
	switch c {
	case IllegalFunction:
		return "illegal function"
	case IllegalDataAddress:
		return "illegal data address"
	case IllegalDataValue:
		return "illegal data value"
	case ServerDeviceFailure:
		return "server device failure"
	case Acknowledge:
		return "acknowledge"
	case ServerDeviceBusy:
		return "server device busy"
	case MemoryParityError:
		return "memory parity error"
	case GatewayPathUnavailable:
		return "gateway path unavailable"
	case GatewayTargetFailedToRespond:
		return "gateway target device failed to respond"
	default:
		return fmt.Sprintf("exception code 0x%02x", byte(c))
	}
}

// ExceptionError is a Modbus exception response returned as an error. It
// matches the sentinel errors (ErrIllegalDataAddress, ...) with errors.Is.
// A Handler may return one to make the Server send an exception response.
type ExceptionError struct {
	// Function is the function code of the request (without the 0x80 bit);
	// 0 in the package's sentinel errors.
	Function byte
	// Code is the exception code.
	Code ExceptionCode
}

// Error implements error.
func (e *ExceptionError) Error() string {
	if e.Function == 0 {
		return "modbus exception: " + e.Code.String()
	}
	return fmt.Sprintf("modbus exception %d (%s) for function %d", byte(e.Code), e.Code, e.Function)
}

// Is reports whether target is an *ExceptionError with the same code and,
// unless target's Function is 0 (as in the sentinels), the same function.
func (e *ExceptionError) Is(target error) bool {
	t, ok := target.(*ExceptionError)
	if !ok || t == nil {
		return false
	}
	return t.Code == e.Code && (t.Function == 0 || t.Function == e.Function)
}

// Sentinel errors for the exception codes; compare with errors.Is.
var (
	ErrIllegalFunction              error = &ExceptionError{Code: IllegalFunction}
	ErrIllegalDataAddress           error = &ExceptionError{Code: IllegalDataAddress}
	ErrIllegalDataValue             error = &ExceptionError{Code: IllegalDataValue}
	ErrServerDeviceFailure          error = &ExceptionError{Code: ServerDeviceFailure}
	ErrAcknowledge                  error = &ExceptionError{Code: Acknowledge}
	ErrServerDeviceBusy             error = &ExceptionError{Code: ServerDeviceBusy}
	ErrMemoryParityError            error = &ExceptionError{Code: MemoryParityError}
	ErrGatewayPathUnavailable       error = &ExceptionError{Code: GatewayPathUnavailable}
	ErrGatewayTargetFailedToRespond error = &ExceptionError{Code: GatewayTargetFailedToRespond}
)

// Other sentinel errors of the package.
var (
	// ErrTimeout means a request got no (valid) answer in time, either the
	// client's Timeout or the context's deadline. The connection is closed
	// and redialled on the next request.
	ErrTimeout = errors.New("modbus: no response in time")
	// ErrInvalidResponse means a response frame was malformed or did not
	// match the request (wrong function, length, byte count, unit id, echo).
	ErrInvalidResponse = errors.New("modbus: invalid response")
	// ErrInvalidRequest means the arguments of a request are outside the
	// protocol limits (quantity, address range, value); it is never sent.
	ErrInvalidRequest = errors.New("modbus: invalid request")
	// ErrNoResponse may be returned by a Handler to make the Server send no
	// reply at all, as a gateway whose target device is absent does.
	ErrNoResponse = errors.New("modbus: no response")
	// ErrPortUnavailable means a serial port could not be opened, or failed
	// (a USB adapter unplugged). The port is closed and reopened, with
	// backoff, by a later request; no restart is needed.
	ErrPortUnavailable = errors.New("modbus: serial port unavailable")
)

// exception returns an *ExceptionError for fn and code.
func exception(fn byte, code ExceptionCode) *ExceptionError {
	return &ExceptionError{Function: fn, Code: code}
}
