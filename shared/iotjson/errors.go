package iotjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is an error of the IoT agent's API: its JSON body is
// {"name": Name, "message": Message}, sent with Code, as
// iotagent-node-lib answers.
type Error struct {
	// Code is the HTTP status.
	Code int `json:"-"`
	// Name is the library's error name, e.g. "DEVICE_NOT_FOUND".
	Name string `json:"name"`
	// Message says what was wrong.
	Message string `json:"message"`
	// RetryAfter, when positive, is sent as the Retry-After header (rate
	// limits).
	RetryAfter time.Duration `json:"-"`
}

// Error returns "<name>: <message>".
func (e *Error) Error() string { return e.Name + ": " + e.Message }

// Error names of iotagent-node-lib (and of GridEdge's additions, marked).
const (
	NameWrongSyntax         = "WRONG_SYNTAX"
	NameMissingHeaders      = "MISSING_HEADERS"
	NameMissingAttributes   = "MISSING_ATTRIBUTES"
	NameDuplicateDeviceID   = "DUPLICATE_DEVICE_ID"
	NameDuplicateGroup      = "DUPLICATE_GROUP"
	NameDeviceNotFound      = "DEVICE_NOT_FOUND"
	NameGroupNotFound       = "DEVICE_GROUP_NOT_FOUND"
	NameMandatoryParams     = "MANDATORY_PARAMS_NOT_FOUND"
	NameUnauthorized        = "UNAUTHORIZED"
	NameAccessForbidden     = "ACCESS_FORBIDDEN"
	NamePayloadTooLarge     = "PAYLOAD_TOO_LARGE" // GridEdge: a body above the payload limit
	NameTooManyRequests     = "TOO_MANY_REQUESTS" // GridEdge: a device above its rate limit
	NameDeviceLimit         = "DEVICE_LIMIT"      // GridEdge: autoprovisioning above the device limit
	NameInternalError       = "INTERNAL_ERROR"
	NameNoCommandTransport  = "COMMAND_TRANSPORT_UNAVAILABLE" // GridEdge: commands without an MQTT binding
	NameMethodNotAllowed    = "METHOD_NOT_ALLOWED"
	NameNotFound            = "NOT_FOUND"
	NameUnsupportedLanguage = "UNSUPPORTED_EXPRESSION_LANGUAGE" // GridEdge: expressionLanguage other than jexl
)

// WrongSyntax is WRONG_SYNTAX (400).
func WrongSyntax(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Name: NameWrongSyntax, Message: "Wrong syntax in request: " + fmt.Sprintf(format, args...)}
}

// MissingHeaders is MISSING_HEADERS (400).
func MissingHeaders(headers ...string) *Error {
	b, _ := json.Marshal(headers)
	return &Error{Code: http.StatusBadRequest, Name: NameMissingHeaders, Message: "Some headers were missing from the request: " + string(b)}
}

// MissingAttributes is MISSING_ATTRIBUTES (400).
func MissingAttributes(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Name: NameMissingAttributes, Message: "The request was not well formed: " + fmt.Sprintf(format, args...)}
}

// DuplicateDevice is DUPLICATE_DEVICE_ID (409).
func DuplicateDevice(id string) *Error {
	return &Error{Code: http.StatusConflict, Name: NameDuplicateDeviceID, Message: "A device with the same pair (Service, DeviceId) was found:" + id}
}

// DuplicateGroup is DUPLICATE_GROUP (409).
func DuplicateGroup(resource, apikey string) *Error {
	return &Error{Code: http.StatusConflict, Name: NameDuplicateGroup, Message: fmt.Sprintf("A device configuration already exists for resource %s and API Key %s", resource, apikey)}
}

// DeviceNotFound is DEVICE_NOT_FOUND (404).
func DeviceNotFound(id string) *Error {
	return &Error{Code: http.StatusNotFound, Name: NameDeviceNotFound, Message: "No device was found with id:" + id}
}

// GroupNotFound is DEVICE_GROUP_NOT_FOUND (404).
func GroupNotFound(resource, apikey string) *Error {
	v, _ := json.Marshal(map[string]string{"resource": resource, "apikey": apikey})
	return &Error{Code: http.StatusNotFound, Name: NameGroupNotFound, Message: `Couldn't find device group for fields: ["resource","apikey"] and values: ` + string(v)}
}

// MandatoryParams is MANDATORY_PARAMS_NOT_FOUND (400).
func MandatoryParams(params ...string) *Error {
	b, _ := json.Marshal(params)
	return &Error{Code: http.StatusBadRequest, Name: NameMandatoryParams, Message: "Some of the mandatory params weren't found in the request: " + string(b)}
}

// InternalError is INTERNAL_ERROR (500) with err's text.
func InternalError(err error) *Error {
	return &Error{Code: http.StatusInternalServerError, Name: NameInternalError, Message: err.Error()}
}

// PayloadTooLarge is PAYLOAD_TOO_LARGE (413); setting names the limit's
// configuration key.
func PayloadTooLarge(limit int64, setting string) *Error {
	return &Error{Code: http.StatusRequestEntityTooLarge, Name: NamePayloadTooLarge, Message: fmt.Sprintf("request entity too large: the limit is %d bytes (%s)", limit, setting)}
}

// TokenRequired is UNAUTHORIZED (401) for a device whose token is missing
// or wrong.
func TokenRequired(id string) *Error {
	return &Error{Code: http.StatusUnauthorized, Name: NameUnauthorized, Message: "device " + id + " has a token: send it in the X-Device-Token header (HTTP), or in the MQTT topic <apikey>/<deviceId>/<token>/attrs or the MQTT v5 user property token"}
}

// TooManyRequests is TOO_MANY_REQUESTS (429) for device id above
// perSecond readings a second (burst), to retry in wait.
func TooManyRequests(id string, perSecond float64, burst int, wait time.Duration) *Error {
	return &Error{Code: http.StatusTooManyRequests, Name: NameTooManyRequests, RetryAfter: wait,
		Message: fmt.Sprintf("device %s sends more than %g readings/s (burst %d); retry in %s", id, perSecond, burst, wait.Round(time.Millisecond))}
}

// WriteError sends err as the IoT agent's error body; errors that are not
// *Error are internal errors. A 429 carries Retry-After (whole seconds, at
// least 1) unless the header is already set.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = InternalError(err)
	}
	if e.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		secs := max(1, int((e.RetryAfter+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", fmt.Sprint(secs))
	}
	WriteJSON(w, e.Code, e)
}

// WriteJSON sends v as JSON with code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
