// The session's message handling: handshake, heartbeats, subscriptions and
// method calls, and the server's messages.

package ddp

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Versions are the DDP versions served, preferred first.
var Versions = []string{"1", "pre2"}

// handle processes one client message.
func (c *conn) handle(data []byte) {
	m, err := decodeMessage(data)
	if errors.Is(err, errParse) {
		c.sendError("Parse error", nil)
		return
	}
	if !c.connected.Load() {
		if err != nil || m.Msg != "connect" {
			c.sendError("Must connect first", m.Raw)
			return
		}
		c.connect(m)
		return
	}
	if err != nil {
		c.sendError("Bad request: "+err.Error(), m.Raw)
		return
	}
	switch m.Msg {
	case "connect":
		c.sendError("Already connected", m.Raw)
	case "ping":
		c.send(pongMessage(m.ID))
	case "pong":
		// Any message counts as alive; received() did the rest.
	case "sub":
		if ok, wait := c.allow(); !ok {
			c.send(nosubMessage(m.ID, throttled("rate limit exceeded for "+c.describe(), wait)))
			return
		}
		c.srv.subscribe(c, m.ID, m.Name, m.Params)
	case "unsub":
		c.srv.unsubscribe(c, m.ID)
	case "method":
		if ok, wait := c.allow(); !ok {
			c.send(resultMessage(m.ID, nil, throttled("rate limit exceeded for "+c.describe(), wait)))
			c.send(updatedMessage(m.ID))
			return
		}
		c.call(m.ID, m.Method, m.Params)
	}
}

// allow takes a request from the caller's REST rate bucket (http.rateLimit):
// method calls and subscriptions count as REST requests do.
func (c *conn) allow() (bool, time.Duration) {
	return c.srv.cfg.Guard.Allow(c.principal.Load(), c.client)
}

// describe names the caller in a rate-limit error, as the REST API does.
func (c *conn) describe() string {
	p := c.principal.Load()
	if !p.Authenticated() {
		return "this client address"
	}
	return fmt.Sprintf("%s %q", p.Kind, p.ID)
}

// connect answers the handshake: connected with a new session for a
// version we speak, else failed with the version we prefer, then close.
func (c *conn) connect(m message) {
	if !slices.Contains(Versions, m.Version) {
		b := append([]byte(`{"msg":"failed","version":`), appendString(nil, Versions[0])...)
		c.send(append(b, '}'))
		c.close(true)
		return
	}
	c.session = newSessionID()
	c.connected.Store(true)
	b := append([]byte(`{"msg":"connected","session":`), appendString(nil, c.session)...)
	c.send(append(b, '}'))
}

// sendError sends a top-level error, quoting the offending message.
func (c *conn) sendError(reason string, offending map[string]any) {
	b := append([]byte(`{"msg":"error","reason":`), appendString(nil, reason)...)
	if offending != nil {
		b = append(b, `,"offendingMessage":`...)
		b = appendEJSON(b, offending)
	}
	c.send(append(b, '}'))
}

func pongMessage(id string) []byte {
	if id == "" {
		return []byte(`{"msg":"pong"}`)
	}
	b := append([]byte(`{"msg":"pong","id":`), appendString(nil, id)...)
	return append(b, '}')
}

func readyMessage(id string) []byte {
	b := append([]byte(`{"msg":"ready","subs":[`), appendString(nil, id)...)
	return append(b, ']', '}')
}

func nosubMessage(id string, e *Error) []byte {
	b := append([]byte(`{"msg":"nosub","id":`), appendString(nil, id)...)
	if e != nil {
		b = append(b, `,"error":`...)
		b = appendEJSON(b, e.object())
	}
	return append(b, '}')
}

func resultMessage(id string, result any, e *Error) []byte {
	b := append([]byte(`{"msg":"result","id":`), appendString(nil, id)...)
	if e != nil {
		b = append(b, `,"error":`...)
		b = appendEJSON(b, e.object())
	} else if result != nil {
		b = append(b, `,"result":`...)
		b = appendEJSON(b, result)
	}
	return append(b, '}')
}

func updatedMessage(id string) []byte {
	b := append([]byte(`{"msg":"updated","methods":[`), appendString(nil, id)...)
	return append(b, ']', '}')
}
