package daemon

import (
	"log/slog"
	"net/url"

	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/shared/config"
)

// ExternalNATSConfig makes the hub use an operator's NATS system (a server
// or a cluster) instead of its embedded server (docs/scaling.md#external-nats):
// the hub opens no NATS listener, and the external servers hold the edges'
// leaf-node users, the tools' users and JetStream.
type ExternalNATSConfig struct {
	// URLs are client URLs of the external servers (nats://host:4222,
	// tls://host:4222).
	URLs []string `json:"urls"`
	// User and Password authenticate the hub; or CredsFile, or NKeyFile.
	User string `json:"user,omitempty"`
	// Password: see User.
	Password string `json:"password,omitempty"`
	// CredsFile is a NATS credentials file (operator/JWT mode).
	CredsFile string `json:"credsFile,omitempty"`
	// NKeyFile holds the hub user's nkey seed.
	NKeyFile string `json:"nkeyFile,omitempty"`
	// TLS: caFile verifies the servers (default the system roots);
	// certFile and keyFile are a client certificate for servers that
	// require one.
	TLS *ExternalTLS `json:"tls,omitempty"`
}

// ExternalTLS are the TLS files of the hub's connections to an external
// NATS.
type ExternalTLS struct {
	// CAFile verifies the servers' certificates.
	CAFile string `json:"caFile,omitempty"`
	// CertFile is the hub's client certificate.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile is CertFile's key.
	KeyFile string `json:"keyFile,omitempty"`
}

// validateExternal checks nats.external and what it excludes.
func (c *Config) validateExternal(es *config.Errors) {
	x := c.NATS.External
	if x == nil {
		return
	}
	if len(x.URLs) == 0 {
		es.Add("nats.external.urls", "is required: client URLs of the external NATS servers (nats://host:4222)")
	}
	for i, s := range x.URLs {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			es.Add(config.Index("nats.external.urls", i), "%q is not a URL like nats://host:4222 or tls://host:4222", s)
		} else if c.NATS.RequireTLS && u.Scheme != "tls" && x.TLS == nil {
			es.Add(config.Index("nats.external.urls", i), "%q is plaintext but nats.requireTLS is set (use tls:// or nats.external.tls)", s)
		}
	}
	ways := 0
	if x.User != "" || x.Password != "" {
		ways++
		if x.User == "" || x.Password == "" {
			es.Add("nats.external", "user and password go together")
		}
	}
	if x.CredsFile != "" {
		ways++
	}
	if x.NKeyFile != "" {
		ways++
	}
	if ways > 1 {
		es.Add("nats.external", "give one of user/password, credsFile or nkeyFile")
	}
	if x.TLS != nil && (x.TLS.CertFile == "") != (x.TLS.KeyFile == "") {
		es.Add("nats.external.tls", "certFile and keyFile go together")
	}
	// what the embedded server would do is the external one's business
	for _, f := range []struct {
		path string
		set  bool
	}{
		{"nats.cluster", c.NATS.Cluster != nil},
		{"nats.gateway", c.NATS.Gateway != nil},
		{"nats.tls", c.NATS.TLS != nil},
		{"nats.leafTLS", c.NATS.LeafTLS != nil},
		{"nats.users", len(c.NATS.Users) > 0},
		{"federation", c.Federation.Enabled()},
	} {
		if f.set {
			es.Add(f.path, "has no effect with nats.external: the hub runs no NATS server; configure it on the external servers (docs/scaling.md#external-nats)")
		}
	}
}

// externalBrokerOptions returns the broker options for nats.external: only the
// connection, the domain and the edges' names.
func (c *Config) externalBrokerOptions(log *slog.Logger) broker.Options {
	x := c.NATS.External
	o := &broker.ExternalOptions{URLs: x.URLs, User: x.User, Password: x.Password, CredsFile: x.CredsFile, NKeyFile: x.NKeyFile}
	if x.TLS != nil {
		o.CAFile, o.CertFile, o.KeyFile = x.TLS.CAFile, x.TLS.CertFile, x.TLS.KeyFile
	}
	return broker.Options{Domain: c.Domain, ServerName: c.NATS.ServerName, Edges: credentials(c.Edges), Logger: log, External: o}
}
