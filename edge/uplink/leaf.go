// Package uplink connects an edge agent to its hub: an embedded NATS server
// that is a leaf node of the hub (so local substation apps keep a real-time
// bus while the WAN is down), and a forwarder that drains the store-and-forward
// buffer into the hub's INGEST stream, deleting only what the hub acknowledged.
package uplink

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/natslog"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/tlsconf"
)

// LeafOptions configure the edge's embedded server.
type LeafOptions struct {
	// Edge is the edge id; the server is named "gridedge-edge-<id>".
	Edge string
	// HubURL is the hub's leaf-node URL, e.g. nats-leaf://hub:7422 ("" runs
	// without a hub link: local bus only).
	HubURL string
	// HubURLs are more leaf-node URLs of the same hub deployment (the
	// nodes of a hub cluster): the leaf link connects to one of HubURL and
	// HubURLs and, when that node is lost, reconnects to another.
	HubURLs []string
	// User and Password are the edge's credentials at the hub.
	User, Password string
	// CAFile verifies the hub's TLS certificate (PEM); with it, with a
	// client certificate, or with a tls:// URL, the leaf link uses TLS.
	CAFile string
	// CertFile and KeyFile are the edge's client certificate and key (PEM)
	// for a hub whose leaf listener requires one (mutual TLS); they are
	// re-read when they change, at the next connection.
	CertFile, KeyFile string
	// RequireTLS refuses to start with a plaintext link to the hub.
	RequireTLS bool
	// ServerName overrides the name checked in the hub's certificate.
	ServerName string
	// Compression is the leaf link's compression: one of Compressions
	// ("" is s2_auto: S2 chosen by round-trip time, none on a fast link).
	// Any mode but "off" keeps S2 stream buffers of ~2.4 MB on the heap,
	// compressed or not; "off" saves them and sends ~1.6× the bytes
	// (binary batches compress to ~60% with S2).
	Compression string
	// LocalListen is host:port for local apps ("" = in-process only;
	// port 0 = any free port, see Leaf.ClientURL).
	LocalListen string
	// LocalTLS, when set, makes the local listener require TLS with this
	// certificate (re-read when its files change) and, with a CA file,
	// client certificates signed by that CA.
	LocalTLS *tlsconf.Files
	// Domain is the deployment's subject domain (for the local users'
	// permissions).
	Domain string
	// LocalUser and LocalPassword (plain or a bcrypt hash) let a local app
	// read live readings and call the agent's services (status, config,
	// read, write, map); "" disables the user.
	LocalUser, LocalPassword string
	// AnonymousRead lets local connections without credentials subscribe to
	// live readings and the heartbeat, and nothing else; without it they are refused. No local
	// connection may publish on what the edge sends to the hub.
	AnonymousRead bool
	// Logger receives server notices.
	Logger *slog.Logger
}

// hubURLs lists HubURL and HubURLs, without empty entries or repeats.
func hubURLs(o LeafOptions) []string {
	var out []string
	for _, h := range append([]string{o.HubURL}, o.HubURLs...) {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// ErrPlaintextHub is returned by StartLeaf when RequireTLS is set and the
// link to the hub would not use TLS.
var ErrPlaintextHub = errors.New("leaf: TLS to the hub is required but the hub link is plaintext")

// LinkTLS reports whether a leaf link with this URL scheme, hub CA file
// and client certificate file uses TLS: a tls:// URL, or any TLS file.
func LinkTLS(scheme, caFile, certFile string) bool {
	return scheme == "tls" || caFile != "" || certFile != ""
}

// Leaf is the running embedded server.
type Leaf struct {
	srv                    *server.Server
	agentUser, agentSecret string
}

// anonymousUser is the user of local connections without credentials.
const anonymousUser = "anonymous"

// localUsers are the users of the edge's bus: the agent itself (in-process
// only, every subject), and for local apps an optional user and anonymous
// readers, none of which may publish on the hub-bound subjects (batches,
// heartbeats, high-water-mark requests) or into the agent's inbox.
func localUsers(o LeafOptions, agentUser, agentSecret string) ([]*server.User, string) {
	users := []*server.User{{Username: agentUser, Password: agentSecret,
		AllowedConnectionTypes: map[string]struct{}{"IN_PROCESS": {}}}}
	read := []string{subject.LiveAll(o.Domain, o.Edge), subject.Heartbeat(o.Domain, o.Edge), "_INBOX.>"}
	if o.LocalUser != "" {
		var services []string
		for _, a := range subject.EdgeControlActions {
			services = append(services, subject.EdgeControl(o.Domain, o.Edge, a))
		}
		users = append(users, &server.User{Username: o.LocalUser, Password: o.LocalPassword,
			AllowedConnectionTypes: map[string]struct{}{"STANDARD": {}, "WEBSOCKET": {}},
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: services},
				Subscribe: &server.SubjectPermission{Allow: read},
			}})
	}
	noAuth := ""
	if o.AnonymousRead {
		users = append(users, &server.User{Username: anonymousUser, Password: randomSecret(),
			AllowedConnectionTypes: map[string]struct{}{"STANDARD": {}, "WEBSOCKET": {}},
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{}, Deny: []string{">"}},
				Subscribe: &server.SubjectPermission{Allow: read},
			}})
		noAuth = anonymousUser
	}
	return users, noAuth
}

func randomSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// Compressions are the modes of LeafOptions.Compression: "off", or S2
// chosen by round-trip time (s2_auto) or at a fixed level.
var Compressions = []string{server.CompressionOff, server.CompressionS2Auto, server.CompressionS2Fast,
	server.CompressionS2Better, server.CompressionS2Best}

// StartLeaf starts the embedded server and waits until it accepts local connections.
func StartLeaf(o LeafOptions) (*Leaf, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	opts := &server.Options{
		ServerName: "gridedge-edge-" + o.Edge,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	if o.LocalUser == anonymousUser {
		return nil, fmt.Errorf("leaf: local user name %q is reserved", anonymousUser)
	}
	if o.LocalUser != "" && o.LocalPassword == "" {
		return nil, fmt.Errorf("leaf: local user %q has no password", o.LocalUser)
	}
	l := &Leaf{agentUser: "gridedge-agent", agentSecret: randomSecret()}
	opts.Users, opts.NoAuthUser = localUsers(o, l.agentUser, l.agentSecret)
	if o.LocalListen == "" {
		opts.DontListen = true
	} else {
		host, p, err := net.SplitHostPort(o.LocalListen)
		if err != nil {
			return nil, fmt.Errorf("leaf: local listen address %q: %w", o.LocalListen, err)
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("leaf: local listen port %q: %w", p, err)
		}
		if port == 0 {
			// nats-server takes port 0 for its default, 4222 (the hub's
			// port); ":0" means any free port, as for net.Listen
			port = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, port
		if o.LocalTLS != nil {
			tc, _, err := tlsconf.Server("nats.tls", *o.LocalTLS, o.Logger)
			if err != nil {
				return nil, fmt.Errorf("leaf: local listener TLS: %w", err)
			}
			opts.TLSConfig, opts.TLSTimeout = tc, 5
		} else if !tlsconf.Loopback(o.LocalListen) {
			o.Logger.Warn("WARNING: the local NATS bus listens in plaintext on a non-loopback address: local credentials and live readings cross the network in clear; set nats.tls",
				"addr", o.LocalListen)
		}
	}
	if hubURLs := hubURLs(o); len(hubURLs) > 0 {
		var urls []*url.URL
		for _, h := range hubURLs {
			u, err := url.Parse(h)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("leaf: hub URL %q is not a URL like nats-leaf://host:7422", h)
			}
			if o.User != "" {
				u.User = url.UserPassword(o.User, o.Password)
			}
			if len(urls) > 0 && LinkTLS(u.Scheme, o.CAFile, o.CertFile) != LinkTLS(urls[0].Scheme, o.CAFile, o.CertFile) {
				return nil, fmt.Errorf("leaf: hub URLs %s and %s mix TLS and plaintext", urls[0].Redacted(), u.Redacted())
			}
			urls = append(urls, u)
		}
		u := urls[0]
		opts.LeafNode.ReconnectInterval = time.Second
		mode := o.Compression
		if mode == "" {
			mode = server.CompressionS2Auto
		}
		if !slices.Contains(Compressions, mode) {
			return nil, fmt.Errorf("leaf: compression %q is not one of %s", o.Compression, strings.Join(Compressions, ", "))
		}
		remote := &server.RemoteLeafOpts{
			URLs:        urls,
			Compression: server.CompressionOpts{Mode: mode},
		}
		if LinkTLS(u.Scheme, o.CAFile, o.CertFile) {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
			if tc.ServerName == "" && len(urls) == 1 {
				// with several URLs, nats-server checks each node's
				// certificate against the host of the URL it dialled
				tc.ServerName = u.Hostname()
			}
			if o.CAFile != "" {
				var err error
				if tc.RootCAs, err = tlsconf.LoadPool("hub.caFile", o.CAFile); err != nil {
					return nil, fmt.Errorf("leaf: %w", err)
				}
			}
			if o.CertFile != "" || o.KeyFile != "" {
				r, err := tlsconf.NewReloader("hub.certFile", o.CertFile, o.KeyFile, o.Logger)
				if err != nil {
					return nil, fmt.Errorf("leaf: client certificate: %w", err)
				}
				tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.Certificate() }
			}
			remote.TLS, remote.TLSConfig, remote.TLSTimeout = true, tc, 5
		} else if o.RequireTLS {
			return nil, fmt.Errorf("%w: %s", ErrPlaintextHub, u.Redacted())
		}
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{remote}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("leaf: configure NATS server: %w", err)
	}
	srv.SetLoggerV2(natslog.New(o.Logger), false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("leaf: embedded NATS server did not become ready in 10s (port in use?)")
	}
	l.srv = srv
	return l, nil
}

// Connect opens an in-process client whose reply inboxes use the edge's prefix.
func (l *Leaf) Connect(name, edge string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(l.srv), nats.Name(name), nats.UserInfo(l.agentUser, l.agentSecret),
		nats.CustomInboxPrefix(subject.EdgeInbox(edge)), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("leaf: connect %s: %w", name, err)
	}
	return nc, nil
}

// Interest reports whether anything subscribes to subj on the edge's bus: a
// local app, or a subscription the hub propagated over the leaf link. The
// hub propagates only subscriptions to what the edge may publish to it (its
// ingest and control subjects and reply inboxes, see
// hub/broker.EdgePermissions), so live subjects have interest only while a
// local app listens — unless a hub-side client subscribes to a wildcard that
// also covers those subjects, such as ">", which nats-server propagates
// whole. Publishers use it to skip encoding messages nobody receives.
func (l *Leaf) Interest(subj string) bool {
	return l.srv.GlobalAccount().SubscriptionInterest(subj)
}

// HubConnected reports whether the leaf link to the hub is up.
func (l *Leaf) HubConnected() bool { return l.srv.NumLeafNodes() > 0 }

// ClientURL is the URL of the local listener.
func (l *Leaf) ClientURL() string { return l.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (l *Leaf) Shutdown() {
	l.srv.Shutdown()
	l.srv.WaitForShutdown()
}
