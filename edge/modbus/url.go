package modbus

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the Modbus TCP port used when a tcp:// URL has none.
const DefaultPort = "502"

// scheme names the transport of a device URL.
type scheme string

// Device URL schemes. Only schemeTCP is implemented so far; the others are
// recognised so that configurations naming them get a clear error.
const (
	schemeTCP        scheme = "tcp"        // Modbus TCP (MBAP), tcp://host[:port]
	schemeRTUOverTCP scheme = "rtuovertcp" // RTU frames over TCP (not implemented yet)
	schemeRTU        scheme = "rtu"        // RTU over a serial port (not implemented yet)
	schemeASCII      scheme = "ascii"      // ASCII over a serial port (not implemented yet)
)

// endpoint is a parsed device URL.
type endpoint struct {
	scheme scheme
	// addr is host:port for network schemes.
	addr string
	// query holds transport parameters (serial settings in later schemes).
	query url.Values
}

// parseURL parses a device URL. It is the one place that knows the schemes.
func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("parse modbus url %q: %w", raw, err)
	}
	ep := endpoint{scheme: scheme(strings.ToLower(u.Scheme)), query: u.Query()}
	switch ep.scheme {
	case schemeTCP:
		if u.Host == "" || u.Opaque != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: want tcp://host[:port]", raw)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.RawQuery != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: unexpected user info, path, query or fragment; want tcp://host[:port]", raw)
		}
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return endpoint{}, fmt.Errorf("modbus url %q: missing host", raw)
		}
		if port == "" {
			if strings.HasSuffix(u.Host, ":") {
				return endpoint{}, fmt.Errorf("modbus url %q: empty port", raw)
			}
			port = DefaultPort
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return endpoint{}, fmt.Errorf("modbus url %q: port %q out of range 0..65535", raw, port)
		}
		ep.addr = net.JoinHostPort(host, port)
		return ep, nil
	case schemeRTUOverTCP, schemeRTU, schemeASCII:
		return endpoint{}, fmt.Errorf("modbus url %q: scheme %q is not implemented yet (supported: tcp)", raw, ep.scheme)
	case "":
		return endpoint{}, fmt.Errorf("modbus url %q: missing scheme, want tcp://host[:port]", raw)
	default:
		return endpoint{}, fmt.Errorf("modbus url %q: unknown scheme %q (supported: tcp)", raw, u.Scheme)
	}
}
