package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
)

// The commands that talk to the hub's NATS server (fleet, map, edge, hub)
// connect with the CLI's own credentials. Each setting comes from the first
// of these that gives it:
//
//  1. the command-line flags (--server, --creds, --user, --password, --tls-ca, ...);
//  2. the environment (GRIDEDGE_URL, GRIDEDGE_CREDS, GRIDEDGE_NATS_USER,
//     GRIDEDGE_NATS_PASSWORD, GRIDEDGE_TLS_CA, GRIDEDGE_TLS_CERT,
//     GRIDEDGE_TLS_KEY, GRIDEDGE_DOMAIN, GRIDEDGE_KEY);
//  3. the context named by --context, else by GRIDEDGE_CONTEXT, else the one
//     chosen with `gridedge context use`;
//  4. the defaults: nats://127.0.0.1:4222, domain "gridedge", no credentials.
//
// Credentials are taken as a unit: the first source that names a creds file
// or a user decides which of the two is used, so a context's user is not
// mixed with a creds file from the environment. A password may still come
// from a lower source (a user on the command line, its password in the
// environment).

// Defaults of a connection without flags, environment or context.
const (
	defaultURL    = "nats://127.0.0.1:4222"
	defaultDomain = "gridedge"
)

// connFlags are the connection flags of every command that talks to NATS.
type connFlags struct {
	fs      *flag.FlagSet
	flags   natsContext
	context string
	timeout *time.Duration
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{fs: fs}
	fs.StringVar(&c.flags.URL, "server", "", "hub NATS URL(s), comma-separated (env GRIDEDGE_URL; default "+defaultURL+")")
	fs.StringVar(&c.flags.Creds, "creds", "", "NATS credentials file (env GRIDEDGE_CREDS)")
	fs.StringVar(&c.flags.User, "user", "", "NATS user (env GRIDEDGE_NATS_USER)")
	fs.StringVar(&c.flags.Password, "password", "", "NATS password (env GRIDEDGE_NATS_PASSWORD)")
	fs.StringVar(&c.flags.TLSCA, "tls-ca", "", "CA certificate file that signed the hub's certificate (env GRIDEDGE_TLS_CA)")
	fs.StringVar(&c.flags.TLSCert, "tls-cert", "", "client certificate file, when the hub asks for one (env GRIDEDGE_TLS_CERT)")
	fs.StringVar(&c.flags.TLSKey, "tls-key", "", "the client certificate's key file (env GRIDEDGE_TLS_KEY)")
	fs.StringVar(&c.flags.Domain, "domain", "", "the deployment's subject domain (env GRIDEDGE_DOMAIN; default "+defaultDomain+")")
	fs.StringVar(&c.context, "context", "", "saved connection to use (env GRIDEDGE_CONTEXT; default: the one chosen with 'gridedge context use')")
	c.timeout = fs.Duration("timeout", 5*time.Second, "time to wait for each answer")
	return c
}

// envContext is what the environment says about the connection.
func envContext() natsContext {
	return natsContext{
		URL:      os.Getenv("GRIDEDGE_URL"),
		Creds:    os.Getenv("GRIDEDGE_CREDS"),
		User:     os.Getenv("GRIDEDGE_NATS_USER"),
		Password: os.Getenv("GRIDEDGE_NATS_PASSWORD"),
		TLSCA:    os.Getenv("GRIDEDGE_TLS_CA"),
		TLSCert:  os.Getenv("GRIDEDGE_TLS_CERT"),
		TLSKey:   os.Getenv("GRIDEDGE_TLS_KEY"),
		Domain:   os.Getenv("GRIDEDGE_DOMAIN"),
		Key:      os.Getenv("GRIDEDGE_KEY"),
	}
}

// resolve merges flags, environment, context and defaults in that order.
func (c *connFlags) resolve() (natsContext, error) {
	name := c.context
	if name == "" {
		name = os.Getenv("GRIDEDGE_CONTEXT")
	}
	var saved natsContext
	if name == "" {
		sel, err := selectedContext()
		if err != nil {
			return natsContext{}, err
		}
		name = sel
	}
	if name != "" {
		var err error
		if saved, err = loadContext(name); err != nil {
			return natsContext{}, err
		}
	}
	return mergeContexts(c.flags, envContext(), saved, natsContext{URL: defaultURL, Domain: defaultDomain}), nil
}

// mergeContexts takes each setting from the first layer that gives it, and
// the credentials (creds file or user) as a unit.
func mergeContexts(layers ...natsContext) natsContext {
	var m natsContext
	first := func(get func(*natsContext) string) string {
		for i := range layers {
			if v := get(&layers[i]); v != "" {
				return v
			}
		}
		return ""
	}
	m.Name = first(func(c *natsContext) string { return c.Name })
	m.URL = first(func(c *natsContext) string { return c.URL })
	m.TLSCA = first(func(c *natsContext) string { return c.TLSCA })
	m.TLSCert = first(func(c *natsContext) string { return c.TLSCert })
	m.TLSKey = first(func(c *natsContext) string { return c.TLSKey })
	m.Domain = first(func(c *natsContext) string { return c.Domain })
	m.Key = first(func(c *natsContext) string { return c.Key })
	for i := range layers {
		if layers[i].Creds != "" || layers[i].User != "" {
			m.Creds, m.User = layers[i].Creds, layers[i].User
			break
		}
	}
	if m.User != "" {
		m.Password = first(func(c *natsContext) string { return c.Password })
	}
	return m
}

// connect resolves the settings and connects to the hub's NATS server.
func (c *connFlags) connect() (*nats.Conn, natsContext, error) {
	nc, err := c.resolve()
	if err != nil {
		return nil, nc, err
	}
	conn, err := nc.connect()
	return conn, nc, err
}

// check reports settings that cannot work, naming the setting.
func (c natsContext) check() error {
	var errs []error
	if err := subject.CheckToken("domain", c.Domain); err != nil {
		errs = append(errs, err)
	}
	if c.Creds != "" && c.User != "" {
		errs = append(errs, errors.New("give a creds file or a user, not both"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("a client certificate needs both --tls-cert and --tls-key"))
	}
	if c.User != "" && c.Password == "" {
		errs = append(errs, fmt.Errorf("user %q has no password (give --password or GRIDEDGE_NATS_PASSWORD)", c.User))
	}
	return errors.Join(errs...)
}

func (c natsContext) connect() (*nats.Conn, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.Name("gridedge CLI"), nats.NoReconnect(), nats.Timeout(5 * time.Second)}
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		who := "without credentials"
		switch {
		case c.Creds != "":
			who = "with creds " + c.Creds
		case c.User != "":
			who = "as " + c.User
		}
		return nil, fmt.Errorf("connect to %s %s: %w", c.URL, who, err)
	}
	return nc, nil
}
