package opcua

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// Conn is a session with one OPC-UA server.
type Conn struct {
	c         *opcua.Client
	srv       *Server
	lost      chan struct{} // closed when the connection is lost or closed
	stop      chan struct{} // closed by Close: the watcher returns
	closeOnce sync.Once
	done      chan struct{} // closed when the state watcher returned
}

// Connect opens a secure channel and session to s (defaults applied): it
// asks the server for its endpoints, picks the one with s's policy and
// mode, refuses a server certificate s does not trust, and activates the
// session as s's identity. The connection is not restored when lost: Lost
// tells, and the caller connects again.
func Connect(ctx context.Context, s *Server, log *slog.Logger) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout.Std())
	defer cancel()
	policy, err := policyURI(s.Security.Policy)
	if err != nil {
		return nil, err
	}
	mode, err := securityMode(s.Security.Mode)
	if err != nil {
		return nil, err
	}
	eps, err := opcua.GetEndpoints(ctx, s.URL, opcua.DialTimeout(s.Timeout.Std()))
	if err != nil {
		return nil, fmt.Errorf("get endpoints of %s: %w", s.URL, err)
	}
	var ep *ua.EndpointDescription
	for _, e := range eps {
		if e.SecurityPolicyURI == policy && e.SecurityMode == mode {
			ep = e
			break
		}
	}
	if ep == nil {
		return nil, fmt.Errorf("%s: %w with policy %s and mode %s; it offers %s", s.URL, ErrNoEndpoint,
			s.Security.Policy, s.Security.Mode, strings.Join(Offered(eps), ", "))
	}
	opts := []opcua.Option{
		opcua.AutoReconnect(false), // Source reconnects and re-creates subscriptions itself
		opcua.RequestTimeout(s.Timeout.Std()),
		opcua.DialTimeout(s.Timeout.Std()),
		opcua.SessionTimeout(max(time.Minute, 3*s.Timeout.Std())),
		opcua.ApplicationName("GridEdge agent"),
		opcua.ApplicationURI("urn:gridedge:agent"),
	}
	if policy != ua.SecurityPolicyURINone {
		trust, err := LoadTrust(&s.Security)
		if err != nil {
			return nil, err
		}
		if err := trust.Verify(ep.ServerCertificate); err != nil {
			return nil, fmt.Errorf("%s: %w", s.URL, err)
		}
		cert, err := readCerts(s.Security.CertFile)
		if err != nil {
			return nil, fmt.Errorf("security.certFile %s: %w", s.Security.CertFile, err)
		}
		key, err := readKey(s.Security.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("security.keyFile: %w", err)
		}
		opts = append(opts, opcua.Certificate(cert[0]), opcua.PrivateKey(key))
	}
	var tokenType ua.UserTokenType
	switch s.Identity.Type {
	case IdentityUsername:
		tokenType = ua.UserTokenTypeUserName
		opts = append(opts, opcua.AuthUsername(s.Identity.Username, s.Identity.Password))
	case IdentityCertificate:
		tokenType = ua.UserTokenTypeCertificate
		cert, err := readCerts(s.Identity.CertFile)
		if err != nil {
			return nil, fmt.Errorf("identity.certFile %s: %w", s.Identity.CertFile, err)
		}
		key, err := readKey(s.Identity.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("identity.keyFile: %w", err)
		}
		opts = append(opts, opcua.AuthCertificate(cert[0]), opcua.AuthPrivateKey(key))
	default:
		tokenType = ua.UserTokenTypeAnonymous
		opts = append(opts, opcua.AuthAnonymous())
	}
	if !slices.ContainsFunc(ep.UserIdentityTokens, func(t *ua.UserTokenPolicy) bool { return t.TokenType == tokenType }) {
		return nil, fmt.Errorf("%s: %w: type %s", s.URL, ErrNoIdentity, s.Identity.Type)
	}
	// after the identity: it sets the token's policy id from the endpoint
	opts = append(opts, opcua.SecurityFromEndpoint(ep, tokenType))
	states := make(chan opcua.ConnState, 8)
	opts = append(opts, opcua.StateChangedCh(states))
	c, err := opcua.NewClient(s.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", s.URL, err)
	}
	cn := &Conn{c: c, srv: s, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go cn.watch(states, log)
	if err := c.Connect(ctx); err != nil {
		cn.Close()
		return nil, fmt.Errorf("connect to %s (%s, %s, %s): %w", s.URL, s.Security.Policy, s.Security.Mode, s.Identity.Type, err)
	}
	return cn, nil
}

// watch closes lost when the client leaves the connected state after it
// reached it, and drains the state channel until Close. The channel is
// never closed: gopcua may still send on it after Close, with a cancelled
// context, which never blocks for long.
func (cn *Conn) watch(states <-chan opcua.ConnState, log *slog.Logger) {
	defer close(cn.done)
	connected, lost := false, false
	markLost := func() {
		if !lost {
			close(cn.lost)
			lost = true
		}
	}
	defer markLost()
	for {
		select {
		case <-cn.stop:
			return
		case st := <-states:
			log.Debug("opc-ua connection state", "server", cn.srv.Name, "state", st.String())
			switch st {
			case opcua.Connected:
				connected = true
			case opcua.Disconnected, opcua.Closed:
				if connected {
					markLost()
				}
			}
		}
	}
}

// Lost is closed when the connection is lost (or closed).
func (cn *Conn) Lost() <-chan struct{} { return cn.lost }

// Client is the underlying gopcua client.
func (cn *Conn) Client() *opcua.Client { return cn.c }

// Close closes the session and the secure channel.
func (cn *Conn) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// the watcher drains states while the client closes (Close sends one)
	_ = cn.c.Close(ctx) // best effort: the server may be gone
	cn.closeOnce.Do(func() { close(cn.stop) })
	<-cn.done
}

// Offered lists the policy/mode pairs of eps, short names.
func Offered(eps []*ua.EndpointDescription) []string {
	var out []string
	for _, e := range eps {
		p := strings.TrimPrefix(e.SecurityPolicyURI, ua.SecurityPolicyURIPrefix)
		m := strings.TrimPrefix(e.SecurityMode.String(), "MessageSecurityMode")
		if s := p + "/" + m; !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
