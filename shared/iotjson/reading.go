package iotjson

import (
	"errors"
	"io"
	"net/http"
)

// HeaderDeviceToken carries a device's token on the HTTP binding.
const HeaderDeviceToken = "X-Device-Token"

// Reading is one arrival of measurements from a device, from any binding.
type Reading struct {
	// APIKey and Resource select the config group.
	APIKey, Resource string
	// DeviceID is the device's id.
	DeviceID string
	// Token is the device token presented ("" when none).
	Token string
	// Payload is the JSON body: an object of measures, or an array of them.
	Payload []byte
	// Attr, when set, is the only measure and Payload its raw value (MQTT
	// …/attrs/<attr>).
	Attr string
}

// ReadHTTP reads a reading of the southbound HTTP binding, POST
// /iot/json?k=<apikey>&i=<deviceId> with the device token in
// X-Device-Token: both parameters are mandatory and the body is at most
// maxPayload bytes (setting names the configuration that sets it, for the
// error). Errors are *Error with the IoT agent's names.
func ReadHTTP(w http.ResponseWriter, r *http.Request, maxPayload int64, setting string) (Reading, error) {
	q := r.URL.Query()
	key, id := q.Get("k"), q.Get("i")
	var missing []string
	if id == "" {
		missing = append(missing, "i")
	}
	if key == "" {
		missing = append(missing, "k")
	}
	if len(missing) > 0 {
		return Reading{}, MandatoryParams(missing...)
	}
	if r.ContentLength > maxPayload {
		return Reading{}, PayloadTooLarge(maxPayload, setting)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Reading{}, PayloadTooLarge(maxPayload, setting)
		}
		return Reading{}, WrongSyntax("read the body: %v", err)
	}
	return Reading{APIKey: key, Resource: ResourceJSON, DeviceID: id, Token: r.Header.Get(HeaderDeviceToken), Payload: body}, nil
}
