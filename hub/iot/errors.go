package iot

import (
	"net/http"

	"github.com/gridedge/gridedge/shared/iotjson"
)

// Error is an error of the IoT agent's API (shared/iotjson): its JSON body
// is {"name": Name, "message": Message}, sent with Code, as
// iotagent-node-lib answers.
type Error = iotjson.Error

// Error names of iotagent-node-lib (and of GridEdge's additions), as
// shared/iotjson defines them.
const (
	NameWrongSyntax         = iotjson.NameWrongSyntax
	NameMissingHeaders      = iotjson.NameMissingHeaders
	NameMissingAttributes   = iotjson.NameMissingAttributes
	NameDuplicateDeviceID   = iotjson.NameDuplicateDeviceID
	NameDuplicateGroup      = iotjson.NameDuplicateGroup
	NameDeviceNotFound      = iotjson.NameDeviceNotFound
	NameGroupNotFound       = iotjson.NameGroupNotFound
	NameMandatoryParams     = iotjson.NameMandatoryParams
	NameUnauthorized        = iotjson.NameUnauthorized
	NameAccessForbidden     = iotjson.NameAccessForbidden
	NamePayloadTooLarge     = iotjson.NamePayloadTooLarge
	NameTooManyRequests     = iotjson.NameTooManyRequests
	NameDeviceLimit         = iotjson.NameDeviceLimit
	NameInternalError       = iotjson.NameInternalError
	NameNoCommandTransport  = iotjson.NameNoCommandTransport
	NameMethodNotAllowed    = iotjson.NameMethodNotAllowed
	NameNotFound            = iotjson.NameNotFound
	NameUnsupportedLanguage = iotjson.NameUnsupportedLanguage
)

var (
	wrongSyntax       = iotjson.WrongSyntax
	missingHeaders    = iotjson.MissingHeaders
	missingAttributes = iotjson.MissingAttributes
	duplicateDevice   = iotjson.DuplicateDevice
	duplicateGroup    = iotjson.DuplicateGroup
	deviceNotFound    = iotjson.DeviceNotFound
	groupNotFound     = iotjson.GroupNotFound
	mandatoryParams   = iotjson.MandatoryParams
)

// writeError sends err as the IoT agent's error body; errors that are not
// *Error are internal errors.
func writeError(w http.ResponseWriter, err error) { iotjson.WriteError(w, err) }

func writeJSON(w http.ResponseWriter, code int, v any) { iotjson.WriteJSON(w, code, v) }
