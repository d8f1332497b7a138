package broker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ExternalOptions make the hub use an operator's NATS system instead of
// embedding a server: the hub then runs no NATS server and opens no
// listener; the external servers hold the edges' leaf-node users, the
// tools' users and JetStream (docs/scaling.md#external-nats).
type ExternalOptions struct {
	// URLs are client URLs of the external servers (nats://host:4222,
	// tls://…).
	URLs []string
	// User and Password authenticate the hub (or leave both empty and use
	// CredsFile or NKeyFile).
	User string
	// Password: see User.
	Password string
	// CredsFile is a NATS credentials file (user JWT and nkey seed) for
	// servers in operator mode.
	CredsFile string
	// NKeyFile is a file holding the hub user's nkey seed.
	NKeyFile string
	// CAFile verifies the servers' certificates (default: the system
	// roots).
	CAFile string
	// CertFile and KeyFile are a client certificate for servers that
	// require one.
	CertFile string
	// KeyFile: see CertFile.
	KeyFile string
}

// externalConn is how the hub reaches an external NATS.
type externalConn struct {
	servers []string
	auth    []nats.Option // credentials and TLS of the hub's own connections
	tls     []nats.Option // TLS only: for connections as another user
}

// externalJetStreamTimeout bounds the check, at start, that the hub's
// account on the external NATS has JetStream.
const externalJetStreamTimeout = 10 * time.Second

// startExternal checks e and connects once, so that a wrong URL,
// credential or missing JetStream fails the start with an error saying so.
func startExternal(o Options) (*Broker, error) {
	e := o.External
	switch {
	case o.Cluster != nil || o.Gateway != nil:
		return nil, errors.New("broker: an external NATS is clustered by its operator: no cluster or gateway of the hub's own")
	case o.ClientListen != "" || o.LeafListen != "":
		return nil, errors.New("broker: with an external NATS the hub opens no NATS listener: clients and edges connect to the external servers")
	case len(o.Users) > 0 || len(o.LeafPeers) > 0 || len(o.LeafRemotes) > 0:
		return nil, errors.New("broker: with an external NATS, its users, leaf nodes and links are configured on the external servers")
	case len(e.URLs) == 0:
		return nil, errors.New("broker: external NATS: no URL")
	}
	x := &externalConn{}
	for _, s := range e.URLs {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			return nil, fmt.Errorf("broker: external NATS URL %q is not like nats://host:4222 or tls://host:4222", s)
		}
		x.servers = append(x.servers, s)
	}
	ways := 0
	if e.User != "" || e.Password != "" {
		if e.User == "" || e.Password == "" {
			return nil, errors.New("broker: external NATS: a user needs a name and a password")
		}
		x.auth = append(x.auth, nats.UserInfo(e.User, e.Password))
		ways++
	}
	if e.CredsFile != "" {
		x.auth = append(x.auth, nats.UserCredentials(e.CredsFile))
		ways++
	}
	if e.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(e.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker: external NATS nkey file: %w", err)
		}
		x.auth = append(x.auth, opt)
		ways++
	}
	if ways > 1 {
		return nil, errors.New("broker: external NATS: give one of user/password, a credentials file or an nkey file")
	}
	if e.CAFile != "" {
		x.tls = append(x.tls, nats.RootCAs(e.CAFile))
	}
	if e.CertFile != "" || e.KeyFile != "" {
		if e.CertFile == "" || e.KeyFile == "" {
			return nil, errors.New("broker: external NATS: a client certificate needs both certFile and keyFile")
		}
		x.tls = append(x.tls, nats.ClientCert(e.CertFile, e.KeyFile))
	}
	x.auth = append(x.auth, x.tls...)
	b := &Broker{ext: x}
	nc, err := b.Connect("gridedge-hub-check")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("broker: external NATS: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), externalJetStreamTimeout)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return nil, fmt.Errorf("broker: external NATS %s: the hub's account has no JetStream (enable it for the account, and let the hub's user publish $JS.API.>): %w",
			strings.Join(x.servers, ","), err)
	}
	o.Logger.Info("using an external NATS: no embedded server", "servers", strings.Join(x.servers, ","))
	return b, nil
}

// connect opens a connection of the hub's services to the external NATS.
func (x *externalConn) connect(name string) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1)}, x.auth...)
	nc, err := nats.Connect(strings.Join(x.servers, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect %s to the external NATS %s: %w", name, strings.Join(x.servers, ","), err)
	}
	return nc, nil
}

// dialOptions are the options of a connection made as another user (the
// REST /gateway): the external servers and the TLS settings, without the
// hub's credentials.
func (x *externalConn) dialOptions() []nats.Option {
	servers := append([]string{}, x.servers...)
	return append([]nats.Option{func(o *nats.Options) error { o.Servers = servers; return nil }}, x.tls...)
}

// External reports whether the hub uses an external NATS.
func (b *Broker) External() bool { return b.ext != nil }
