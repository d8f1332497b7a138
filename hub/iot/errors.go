package iot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	NamePayloadTooLarge     = "PAYLOAD_TOO_LARGE" // GridEdge: a body above iot.maxPayload
	NameTooManyRequests     = "TOO_MANY_REQUESTS" // GridEdge: a device above its rate limit
	NameDeviceLimit         = "DEVICE_LIMIT"      // GridEdge: autoprovisioning above iot.maxDevices
	NameInternalError       = "INTERNAL_ERROR"
	NameNoCommandTransport  = "COMMAND_TRANSPORT_UNAVAILABLE" // GridEdge: commands without iot.mqtt.url
	NameMethodNotAllowed    = "METHOD_NOT_ALLOWED"
	NameNotFound            = "NOT_FOUND"
	NameUnsupportedLanguage = "UNSUPPORTED_EXPRESSION_LANGUAGE" // GridEdge: expressionLanguage other than jexl
)

func wrongSyntax(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Name: NameWrongSyntax, Message: "Wrong syntax in request: " + fmt.Sprintf(format, args...)}
}

func missingHeaders(headers ...string) *Error {
	b, _ := json.Marshal(headers)
	return &Error{Code: http.StatusBadRequest, Name: NameMissingHeaders, Message: "Some headers were missing from the request: " + string(b)}
}

func missingAttributes(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Name: NameMissingAttributes, Message: "The request was not well formed: " + fmt.Sprintf(format, args...)}
}

func duplicateDevice(id string) *Error {
	return &Error{Code: http.StatusConflict, Name: NameDuplicateDeviceID, Message: "A device with the same pair (Service, DeviceId) was found:" + id}
}

func duplicateGroup(resource, apikey string) *Error {
	return &Error{Code: http.StatusConflict, Name: NameDuplicateGroup, Message: fmt.Sprintf("A device configuration already exists for resource %s and API Key %s", resource, apikey)}
}

func deviceNotFound(id string) *Error {
	return &Error{Code: http.StatusNotFound, Name: NameDeviceNotFound, Message: "No device was found with id:" + id}
}

func groupNotFound(resource, apikey string) *Error {
	v, _ := json.Marshal(map[string]string{"resource": resource, "apikey": apikey})
	return &Error{Code: http.StatusNotFound, Name: NameGroupNotFound, Message: `Couldn't find device group for fields: ["resource","apikey"] and values: ` + string(v)}
}

func mandatoryParams(params ...string) *Error {
	b, _ := json.Marshal(params)
	return &Error{Code: http.StatusBadRequest, Name: NameMandatoryParams, Message: "Some of the mandatory params weren't found in the request: " + string(b)}
}

func internalError(err error) *Error {
	return &Error{Code: http.StatusInternalServerError, Name: NameInternalError, Message: err.Error()}
}

// writeError sends err as the IoT agent's error body; errors that are not
// *Error are internal errors.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = internalError(err)
	}
	if e.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Code, e)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
