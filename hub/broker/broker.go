// Package broker runs the hub's embedded NATS server: JetStream for the
// INGEST stream, a client listener for tools and other hub replicas, and a
// leaf-node listener to which every edge agent's embedded server connects with
// its own credentials and permissions limited to its own subjects.
package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/shared/natslog"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/tlsconf"
)

// EdgeCredential lets one edge's leaf node connect.
type EdgeCredential struct {
	// ID is the edge id; it is also the leaf-node user name.
	ID string `json:"id"`
	// Password is the edge's secret.
	Password string `json:"password"`
}

// ClientUser is a NATS user for tools and services (and the REST /gateway).
type ClientUser struct {
	// User is the user name.
	User string `json:"user"`
	// Password is the password, plain or a bcrypt hash ("$2a$…").
	Password string `json:"password"`
	// Publish lists the subjects the user may publish to (wildcards allowed;
	// empty: none). Replies to requests the user receives are always allowed.
	Publish []string `json:"publish,omitempty"`
	// Subscribe lists the subjects the user may subscribe to (empty: none
	// but its own inbox).
	Subscribe []string `json:"subscribe,omitempty"`
}

// Options configure the broker.
type Options struct {
	// Domain is the deployment's subject domain.
	Domain string
	// ServerName names this hub's NATS server (unique in a cluster).
	ServerName string
	// ClientListen is host:port for NATS clients ("" disables the listener;
	// in-process clients still work; a cluster node, which needs one, then
	// listens on a random loopback port).
	ClientListen string
	// LeafListen is host:port for edge leaf nodes.
	LeafListen string
	// ClientTLS, when set, makes the client listener require TLS with this
	// certificate (re-read when its files change) and, with a CA file,
	// client certificates signed by that CA. In-process clients are not
	// affected.
	ClientTLS *tlsconf.Files
	// LeafTLS, when set, makes the leaf-node listener require TLS the same
	// way; with a CA file, every edge must present a certificate it signed.
	LeafTLS *tlsconf.Files
	// RequireTLS refuses to start a client or leaf-node listener without TLS.
	RequireTLS bool
	// StoreDir is the JetStream directory.
	StoreDir string
	// Cluster, when set, makes the server a node of a NATS cluster of hub
	// replicas (cluster.go).
	Cluster *ClusterOptions
	// Gateway, when set, joins the cluster to the clusters of other
	// regions with NATS gateways (a supercluster; gateway.go). It needs
	// Cluster.
	Gateway *GatewayOptions
	// External, when set, makes the hub use an operator's NATS instead of
	// an embedded server (external.go): the listeners, cluster, gateway,
	// users and federation links are then the external servers' business
	// and must not be set; Edges only names the edges (their passwords are
	// not used).
	External *ExternalOptions
	// Edges are the edges allowed to connect.
	Edges []EdgeCredential
	// Users are NATS users for tools and services.
	Users []ClientUser
	// Logger receives server notices.
	Logger *slog.Logger
	// JetStreamDomain, when set, names this server's JetStream domain, so
	// that a federated deployment reaches its API over a leaf-node link as
	// $JS.<domain>.API (federation.go).
	JetStreamDomain string
	// LeafPeers are federated deployments allowed to connect to the
	// leaf-node listener (federation.go).
	LeafPeers []LeafPeer
	// LeafRemotes are leaf-node links to federated deployments (federation.go).
	LeafRemotes []LeafRemote
}

// Broker is a running embedded NATS server.
type Broker struct {
	srv          *server.Server
	leafHost     string
	leafPort     int
	leafTLS      bool
	internalUser string
	internalPass string
	ext          *externalConn // with an external NATS; srv is then nil
}

// ErrPlaintext is returned by Start when RequireTLS is set and a listener
// has no TLS.
var ErrPlaintext = errors.New("broker: TLS is required but a listener has none")

// splitHostPort splits a listen address for nats-server. Port 0 (and
// nats-server's own -1) means any free port, as with net.Listen: it is
// server.RANDOM_PORT, since nats-server reads 0 as its default port
// (4222 for clients, the hub's own) or as no listener at all (routes,
// gateways).
func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	switch {
	case port == 0 || port == server.RANDOM_PORT:
		port = server.RANDOM_PORT
	case port < 0 || port > 65535:
		return "", 0, fmt.Errorf("port %d is out of range (1 to 65535, or 0 for any free port)", port)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// hashPassword returns a bcrypt hash for nats-server, which then never holds
// a plain-text password (a value that already is a bcrypt hash is kept).
func hashPassword(pw string) (string, error) {
	if strings.HasPrefix(pw, "$2a$") || strings.HasPrefix(pw, "$2b$") || strings.HasPrefix(pw, "$2y$") {
		return pw, nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost+2)
	if err != nil {
		return "", fmt.Errorf("broker: hash a password: %w", err)
	}
	return string(h), nil
}

func randomSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Broker, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.External != nil {
		return startExternal(o)
	}
	b := &Broker{internalUser: "gridedge-hub", internalPass: randomSecret()}
	opts := &server.Options{
		ServerName: o.ServerName,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	if o.ClientListen == "" && o.Cluster != nil {
		// nats-server starts routing only once its client listener is up:
		// a cluster node gets one on a random loopback port
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	} else if o.ClientListen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(o.ClientListen)
		if err != nil {
			return nil, fmt.Errorf("broker: client listen address %q: %w", o.ClientListen, err)
		}
		opts.Host, opts.Port = host, port
		if o.ClientTLS != nil {
			tc, _, err := tlsconf.Server("nats.tls", *o.ClientTLS, o.Logger)
			if err != nil {
				return nil, fmt.Errorf("broker: client listener TLS: %w", err)
			}
			opts.TLSConfig, opts.TLSTimeout = tc, 5
		} else if o.RequireTLS {
			return nil, fmt.Errorf("%w: client listener %s (set nats.tls)", ErrPlaintext, o.ClientListen)
		} else if !tlsconf.Loopback(o.ClientListen) {
			o.Logger.Warn("WARNING: the NATS client port listens in plaintext on a non-loopback address: credentials and data cross the network in clear; set nats.tls (and nats.requireTLS)",
				"addr", o.ClientListen)
		}
	}
	if o.Cluster != nil {
		if err := configureCluster(opts, o.Cluster, o.Logger); err != nil {
			return nil, err
		}
	}
	if o.Gateway != nil {
		var cluster string
		if o.Cluster != nil {
			cluster = o.Cluster.Name
		}
		if err := configureGateway(opts, o.Gateway, cluster, o.RequireTLS, o.Logger); err != nil {
			return nil, err
		}
	}
	internalHash, err := hashPassword(b.internalPass)
	if err != nil {
		return nil, err
	}
	// each kind of user connects only the way it is meant to: the hub's
	// services in-process, tools as clients, edges as leaf nodes
	opts.Users = []*server.User{{Username: b.internalUser, Password: internalHash, AllowedConnectionTypes: connectionTypes("IN_PROCESS")}}
	seenUsers := map[string]bool{b.internalUser: true}
	for _, e := range o.Edges {
		seenUsers[e.ID] = true
	}
	for _, u := range o.Users {
		if u.User == "" || u.Password == "" {
			return nil, errors.New("broker: a NATS user needs a user name and a password")
		}
		if seenUsers[u.User] {
			return nil, fmt.Errorf("broker: NATS user %q clashes with an edge or another user", u.User)
		}
		seenUsers[u.User] = true
		pw, err := hashPassword(u.Password)
		if err != nil {
			return nil, err
		}
		// IN_PROCESS: the REST /gateway connects as the user from inside the hub
		opts.Users = append(opts.Users, &server.User{Username: u.User, Password: pw, AllowedConnectionTypes: connectionTypes("STANDARD", "IN_PROCESS"), Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: append([]string{}, u.Publish...)},
			Subscribe: &server.SubjectPermission{Allow: append(append([]string{"_INBOX.>"}, u.Subscribe...), controlInboxes(o.Domain, o.Edges, u.Publish)...)},
			Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		}})
	}
	if o.LeafListen != "" {
		host, port, err := splitHostPort(o.LeafListen)
		if err != nil {
			return nil, fmt.Errorf("broker: leaf listen address %q: %w", o.LeafListen, err)
		}
		if port == server.RANDOM_PORT {
			// nats-server has no accessor for a random leaf port: pick one.
			if port, err = freePort(host); err != nil {
				return nil, fmt.Errorf("broker: pick a leaf-node port: %w", err)
			}
		}
		opts.LeafNode.Host, opts.LeafNode.Port = host, port
		// Edges use the URL they are configured with. Advertised addresses
		// would make them reconnect to the hub's own (often internal, NATed
		// or proxied) listen address instead.
		opts.LeafNode.NoAdvertise = true
		b.leafHost, b.leafPort = host, port
		if o.LeafTLS != nil {
			tc, _, err := tlsconf.Server("nats.leafTLS", *o.LeafTLS, o.Logger)
			if err != nil {
				return nil, fmt.Errorf("broker: leaf-node listener TLS: %w", err)
			}
			opts.LeafNode.TLSConfig = tc
			opts.LeafNode.TLSTimeout = 5
			b.leafTLS = true
		} else if o.RequireTLS {
			return nil, fmt.Errorf("%w: leaf-node listener %s (set nats.leafTLS)", ErrPlaintext, o.LeafListen)
		} else if !tlsconf.Loopback(o.LeafListen) {
			o.Logger.Warn("WARNING: the leaf-node port listens in plaintext on a non-loopback address: edge passwords and batches cross the network in clear; set nats.leafTLS (and nats.requireTLS)",
				"addr", o.LeafListen)
		}
		opts.LeafNode.Compression = server.CompressionOpts{Mode: server.CompressionS2Auto}
		seen := map[string]bool{}
		for _, e := range o.Edges {
			if err := subject.CheckToken("edge id", e.ID); err != nil {
				return nil, fmt.Errorf("broker: %w", err)
			}
			if e.Password == "" {
				return nil, fmt.Errorf("broker: edge %q has no password", e.ID)
			}
			if seen[e.ID] {
				return nil, fmt.Errorf("broker: edge %q is listed twice", e.ID)
			}
			seen[e.ID] = true
			// Edges are ordinary users: nats-server applies a user's
			// permissions to a leaf connection only when the leaf
			// authenticates against the main user list (permissions on
			// leafnode users are ignored).
			pw, err := hashPassword(e.Password)
			if err != nil {
				return nil, err
			}
			opts.Users = append(opts.Users, &server.User{
				Username:               e.ID,
				Password:               pw,
				Permissions:            EdgePermissions(o.Domain, e.ID),
				AllowedConnectionTypes: connectionTypes("LEAFNODE"),
			})
		}
	}
	if err := configureFederation(opts, &o); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("broker: configure NATS server: %w", err)
	}
	srv.SetLoggerV2(natslog.New(o.Logger), false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("broker: NATS server did not become ready in 10s (port in use?)")
	}
	b.srv = srv
	return b, nil
}

// EdgePermissions are the permissions of one edge's leaf connection: it may
// send (publish) only its batches, its own control subjects and its own
// inbox prefix (subject.EdgeInbox: a hub service or tool that wants answers
// from the edge makes its requests with that inbox prefix, since the edge
// can reach no other inbox); and receive (subscribe) only its own control
// subjects and replies to its inbox.
func EdgePermissions(domain, edge string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			subject.Ingest(domain, edge),
			subject.EdgeAll(domain, edge),
			subject.EdgeInbox(edge) + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			subject.EdgeAll(domain, edge),
			subject.EdgeInbox(edge) + ".>",
		}},
	}
}

// controlInboxes are the reply inboxes (subject.EdgeInbox) of the edges
// whose control subjects a user may publish to: an edge can answer only
// there, so a user that may send an edge control requests may read its
// answers.
func controlInboxes(domain string, edges []EdgeCredential, publish []string) []string {
	var out []string
	for _, e := range edges {
	actions:
		for _, a := range subject.EdgeControlActions {
			for _, p := range publish {
				if server.SubjectMatchesFilter(subject.EdgeControl(domain, e.ID, a), p) {
					out = append(out, subject.EdgeInbox(e.ID)+".>")
					break actions
				}
			}
		}
	}
	return out
}

func connectionTypes(types ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(types))
	for _, t := range types {
		m[t] = struct{}{}
	}
	return m
}

// Connect opens an in-process client connection for hub services.
func (b *Broker) Connect(name string) (*nats.Conn, error) {
	if b.ext != nil {
		return b.ext.connect(name)
	}
	nc, err := nats.Connect("", nats.InProcessServer(b.srv), nats.UserInfo(b.internalUser, b.internalPass),
		nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("broker: connect %s: %w", name, err)
	}
	return nc, nil
}

// ClientURL is the URL external NATS clients use (tls:// when the client
// listener requires TLS).
func (b *Broker) ClientURL() string {
	if b.ext != nil {
		return strings.Join(b.ext.servers, ",")
	}
	return b.srv.ClientURL()
}

// LocalDialOptions are the options a hub service (the REST /gateway) adds
// to connect as a client user: the connection is made in-process, so it
// needs neither the client listener's certificate nor a client
// certificate, and the user's permissions apply as on the client port.
func (b *Broker) LocalDialOptions() []nats.Option {
	if b.ext != nil {
		return b.ext.dialOptions()
	}
	return []nats.Option{nats.InProcessServer(b.srv)}
}

// LeafURL is the URL edges connect their leaf node to ("" without a leaf listener).
func (b *Broker) LeafURL() string {
	if b.leafPort == 0 {
		return ""
	}
	host := b.leafHost
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "nats-leaf://"
	if b.leafTLS {
		scheme = "tls://"
	}
	return scheme + net.JoinHostPort(host, strconv.Itoa(b.leafPort))
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NumLeafNodes reports connected leaf nodes (0 with an external NATS,
// whose leaf nodes the hub does not see).
func (b *Broker) NumLeafNodes() int {
	if b.ext != nil {
		return 0
	}
	return b.srv.NumLeafNodes()
}

// Shutdown stops the server and waits for it (nothing with an external
// NATS: the hub's connections are closed by their owners).
func (b *Broker) Shutdown() {
	if b.ext != nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}
