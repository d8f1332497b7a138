// Package listen is the value of every listen setting of the hub
// (http.listen, nats.listen, nats.leafListen): a host:port to listen on,
// or "off" for no listener at all. The word "off" is interpreted here and
// nowhere else.
package listen

import (
	"fmt"
	"net"
)

// Off is the setting that disables a listener.
const Off Addr = "off"

// Addr is a listen setting: "host:port" (an empty host listens on every
// interface; port 0 picks a free port) or "off".
type Addr string

// Enabled reports whether a listener is to be started.
func (a Addr) Enabled() bool { return a != Off && a != "" }

// HostPort returns the address to listen on, or "" when the listener is off.
func (a Addr) HostPort() string {
	if !a.Enabled() {
		return ""
	}
	return string(a)
}

// Or returns a, or def when a is unset.
func (a Addr) Or(def Addr) Addr {
	if a == "" {
		return def
	}
	return a
}

// Check reports whether a is "off" or has the form host:port.
func (a Addr) Check() error {
	if a == Off {
		return nil
	}
	_, port, err := net.SplitHostPort(string(a))
	if err != nil || port == "" {
		return fmt.Errorf("%q is not host:port or %q", string(a), string(Off))
	}
	return nil
}
