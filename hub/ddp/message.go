// The client's messages: decoding and validation.

package ddp

import (
	"encoding/json"
	"errors"
	"fmt"
)

// message is a decoded client message. Raw keeps the decoded object for
// offendingMessage.
type message struct {
	Msg     string
	ID      string
	Name    string
	Method  string
	Params  []any
	Version string
	Support []string
	Raw     map[string]any
}

// errParse is a frame that is not a JSON object.
var errParse = errors.New("parse error")

// decodeMessage decodes and checks one client message. A frame that is not
// a JSON object is errParse (reason "Parse error"); a message whose fields
// have the wrong types is an error naming the field, and m.Raw is set so
// that the reply can quote it.
func decodeMessage(data []byte) (m message, err error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return m, errParse
	}
	m.Raw = raw
	str := func(key string, required bool) (string, error) {
		v, ok := raw[key]
		if !ok {
			if required {
				return "", fmt.Errorf("%s is missing", key)
			}
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s must be a string", key)
		}
		return s, nil
	}
	if m.Msg, err = str("msg", true); err != nil {
		return m, err
	}
	switch m.Msg {
	case "connect":
		if m.Version, err = str("version", true); err != nil {
			return m, err
		}
		if v, ok := raw["support"]; ok {
			arr, ok := v.([]any)
			if !ok {
				return m, errors.New("support must be an array of strings")
			}
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					return m, errors.New("support must be an array of strings")
				}
				m.Support = append(m.Support, s)
			}
		}
	case "ping", "pong":
		m.ID, err = str("id", false)
	case "sub":
		if m.ID, err = str("id", true); err != nil {
			return m, err
		}
		if m.Name, err = str("name", true); err != nil {
			return m, err
		}
		m.Params, err = params(raw)
	case "unsub":
		m.ID, err = str("id", true)
	case "method":
		if m.ID, err = str("id", true); err != nil {
			return m, err
		}
		if m.Method, err = str("method", true); err != nil {
			return m, err
		}
		if _, err = str("randomSeed", false); err != nil {
			return m, err
		}
		m.Params, err = params(raw)
	default:
		return m, fmt.Errorf("unknown msg %q", m.Msg)
	}
	return m, err
}

// params reads the optional params array and converts its EJSON.
func params(raw map[string]any) ([]any, error) {
	v, ok := raw["params"]
	if !ok || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("params must be an array")
	}
	out, err := fromEJSON(arr)
	if err != nil {
		return nil, err
	}
	return out.([]any), nil
}
