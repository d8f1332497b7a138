package modbus

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the Modbus TCP port used when a tcp:// URL has none.
const DefaultPort = "502"

// scheme names the transport of a device URL.
type scheme string

// Device URL schemes.
const (
	schemeTCP        scheme = "tcp"        // Modbus TCP (MBAP), tcp://host[:port]
	schemeRTUOverTCP scheme = "rtuovertcp" // RTU frames over TCP, rtuovertcp://host:port
	schemeRTU        scheme = "rtu"        // RTU on a serial port, rtu:///dev/ttyUSB0?baud=...
	schemeASCII      scheme = "ascii"      // ASCII on a serial port, ascii:///dev/ttyUSB0?...
)

// Serial line defaults (Modbus over Serial Line V1.02, 2.5.1 and 3.5): RTU
// 19200 baud, 8 data bits, even parity, 1 stop bit; ASCII 7 data bits, even
// parity, 1 stop bit. Without parity the specification asks for 2 stop bits,
// which is the default then.
const (
	// DefaultBaudRate is the serial line rate when a URL names none.
	DefaultBaudRate = 19200
	// DefaultTurnaround is how long a broadcast keeps the line (the
	// specification's turnaround delay) unless turnaround= says otherwise.
	DefaultTurnaround = 100 * time.Millisecond
	// DefaultASCIICharTime is the ASCII inter-character timeout unless
	// chartimeout= says otherwise.
	DefaultASCIICharTime = time.Second
)

// Parity of a serial line.
type parity byte

const (
	parityNone parity = 'N'
	parityEven parity = 'E'
	parityOdd  parity = 'O'
)

// serialConfig is the line configuration of a serial (or serial-gateway)
// endpoint.
type serialConfig struct {
	baud     int
	dataBits int
	parity   parity
	stopBits int
	// turnaround is how long a broadcast keeps the line before the next
	// request, so slaves can process it.
	turnaround time.Duration
	// charTimeout ends an ASCII frame whose next character does not come.
	charTimeout time.Duration
}

// bitsPerChar returns start + data + parity + stop bits.
func (c serialConfig) bitsPerChar() int {
	n := 1 + c.dataBits + c.stopBits
	if c.parity != parityNone {
		n++
	}
	return n
}

func (c serialConfig) String() string {
	return fmt.Sprintf("%d %d%c%d", c.baud, c.dataBits, c.parity, c.stopBits)
}

// endpoint is a parsed device URL.
type endpoint struct {
	scheme scheme
	// addr is host:port for network schemes.
	addr string
	// path is the serial device for rtu and ascii.
	path string
	// serial is the line configuration for rtu, ascii (and the turnaround
	// for rtuovertcp).
	serial serialConfig
}

// parseURL parses a device URL. It is the one place that knows the schemes.
func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("parse modbus url %q: %w", raw, err)
	}
	ep := endpoint{scheme: scheme(strings.ToLower(u.Scheme))}
	switch ep.scheme {
	case schemeTCP, schemeRTUOverTCP:
		form := ep.scheme.String() + "://host:port"
		if ep.scheme == schemeTCP {
			form = "tcp://host[:port]"
		}
		if u.Host == "" || u.Opaque != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: want %s", raw, form)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: unexpected user info, path or fragment; want %s", raw, form)
		}
		if ep.scheme == schemeTCP && u.RawQuery != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: unexpected query; want %s", raw, form)
		}
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return endpoint{}, fmt.Errorf("modbus url %q: missing host", raw)
		}
		if port == "" {
			if strings.HasSuffix(u.Host, ":") {
				return endpoint{}, fmt.Errorf("modbus url %q: empty port", raw)
			}
			if ep.scheme == schemeRTUOverTCP {
				return endpoint{}, fmt.Errorf("modbus url %q: missing port (serial gateways have no standard port); want %s", raw, form)
			}
			port = DefaultPort
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return endpoint{}, fmt.Errorf("modbus url %q: port %q out of range 0..65535", raw, port)
		}
		ep.addr = net.JoinHostPort(host, port)
		if ep.scheme == schemeRTUOverTCP {
			if ep.serial, err = parseSerialQuery(u.Query(), ep.scheme, true); err != nil {
				return endpoint{}, fmt.Errorf("modbus url %q: %w", raw, err)
			}
		}
		return ep, nil
	case schemeRTU, schemeASCII:
		form := ep.scheme.String() + ":///dev/ttyUSB0?baud=19200&parity=E&databits=8&stopbits=1"
		if u.Opaque != "" || u.User != nil || u.Fragment != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: want %s", raw, form)
		}
		if u.Host != "" {
			return endpoint{}, fmt.Errorf("modbus url %q: unexpected host %q (three slashes before an absolute device path); want %s", raw, u.Host, form)
		}
		if u.Path == "" || u.Path == "/" {
			return endpoint{}, fmt.Errorf("modbus url %q: missing serial device path; want %s", raw, form)
		}
		ep.path = filepath.Clean(u.Path)
		if ep.serial, err = parseSerialQuery(u.Query(), ep.scheme, false); err != nil {
			return endpoint{}, fmt.Errorf("modbus url %q: %w", raw, err)
		}
		return ep, nil
	case "":
		return endpoint{}, fmt.Errorf("modbus url %q: missing scheme, want tcp://host[:port], rtuovertcp://host:port, rtu:///dev/ttyX or ascii:///dev/ttyX", raw)
	default:
		return endpoint{}, fmt.Errorf("modbus url %q: unknown scheme %q (supported: tcp, rtuovertcp, rtu, ascii)", raw, u.Scheme)
	}
}

func (s scheme) String() string { return string(s) }

// parseSerialQuery reads the line parameters of a serial URL. Unknown keys
// are errors: they are most likely typos. gateway restricts them to the
// ones that make sense over TCP.
func parseSerialQuery(q url.Values, s scheme, gateway bool) (serialConfig, error) {
	c := serialConfig{baud: DefaultBaudRate, dataBits: 8, parity: parityEven, turnaround: DefaultTurnaround, charTimeout: DefaultASCIICharTime}
	if s == schemeASCII {
		c.dataBits = 7
	}
	allowed := map[string]bool{"turnaround": true}
	if !gateway {
		for _, k := range []string{"baud", "parity", "databits", "stopbits"} {
			allowed[k] = true
		}
		if s == schemeASCII {
			allowed["chartimeout"] = true
		}
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vs := q[k]
		if !allowed[k] {
			keys := make([]string, 0, len(allowed))
			for a := range allowed {
				keys = append(keys, a)
			}
			slices.Sort(keys)
			errs = append(errs, fmt.Errorf("unknown parameter %q for %s (allowed: %s)", k, s, strings.Join(keys, ", ")))
			continue
		}
		if len(vs) != 1 {
			errs = append(errs, fmt.Errorf("parameter %q given %d times", k, len(vs)))
		}
	}
	stopSet := false
	if v := q.Get("baud"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 50 || n > 4000000 {
			errs = append(errs, fmt.Errorf("baud %q is not a rate in 50..4000000", v))
		}
		c.baud = n
	}
	if v := q.Get("parity"); v != "" {
		switch strings.ToUpper(v) {
		case "N", "NONE":
			c.parity = parityNone
		case "E", "EVEN":
			c.parity = parityEven
		case "O", "ODD":
			c.parity = parityOdd
		default:
			errs = append(errs, fmt.Errorf("parity %q is not N, E or O", v))
		}
	}
	if v := q.Get("databits"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || (n != 7 && n != 8):
			errs = append(errs, fmt.Errorf("databits %q is not 7 or 8", v))
		case s == schemeRTU && n != 8:
			errs = append(errs, fmt.Errorf("databits %d: RTU needs 8 data bits", n))
		default:
			c.dataBits = n
		}
	}
	if v := q.Get("stopbits"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 1 && n != 2) {
			errs = append(errs, fmt.Errorf("stopbits %q is not 1 or 2", v))
		}
		c.stopBits, stopSet = n, true
	}
	if !stopSet {
		c.stopBits = 1
		if c.parity == parityNone {
			c.stopBits = 2
		}
	}
	for _, p := range []struct {
		key string
		dst *time.Duration
	}{{"turnaround", &c.turnaround}, {"chartimeout", &c.charTimeout}} {
		if v := q.Get(p.key); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > time.Minute {
				errs = append(errs, fmt.Errorf("%s %q is not a duration in 0s..1m", p.key, v))
			}
			*p.dst = d
		}
	}
	if c.charTimeout <= 0 {
		c.charTimeout = DefaultASCIICharTime
	}
	return c, errors.Join(errs...)
}
