// Package tlsconf builds the TLS configurations of GridEdge's NATS
// listeners and links (the hub's client and leaf-node ports, the edge's
// local bus and its leaf link to the hub) from PEM files: certificates are
// re-read when their files change, so a renewal takes effect at the next
// handshake without a restart. It also tells whether a listen address is
// reachable only from the host, for the plaintext warnings.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of a TLS listener.
type Files struct {
	// CertFile is the certificate (chain), PEM.
	CertFile string `json:"certFile"`
	// KeyFile is the private key, PEM.
	KeyFile string `json:"keyFile"`
	// CAFile, when set, makes the listener require a client certificate
	// signed by one of these CAs (PEM; mutual TLS). It is read at start.
	CAFile string `json:"caFile,omitempty"`
}

// Reloader holds a certificate and its key and re-reads them when either
// file's modification time changes (checked at most once a second, at a
// handshake). A reload that fails keeps the previous certificate and logs
// why once.
type Reloader struct {
	what, cert, key string
	log             *slog.Logger

	mu       sync.Mutex
	current  *tls.Certificate
	modCert  time.Time
	modKey   time.Time
	checked  time.Time
	lastFail string
}

// NewReloader loads the certificate of what (a name for messages, such as
// "nats.tls") and returns its reloader; a certificate that does not load is
// an error.
func NewReloader(what, certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{what: what, cert: certFile, key: keyFile, log: log}
	if _, err := r.Certificate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Certificate returns the current certificate, re-reading the files when
// they changed.
func (r *Reloader) Certificate() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.current != nil && now.Sub(r.checked) < time.Second {
		return r.current, nil
	}
	r.checked = now
	ci, err1 := os.Stat(r.cert)
	ki, err2 := os.Stat(r.key)
	if err := errors.Join(err1, err2); err != nil {
		if r.current != nil {
			return r.current, nil
		}
		return nil, fmt.Errorf("%s: %w", r.what, err)
	}
	if r.current != nil && ci.ModTime().Equal(r.modCert) && ki.ModTime().Equal(r.modKey) {
		return r.current, nil
	}
	c, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		err = fmt.Errorf("%s: load %s and %s: %w", r.what, r.cert, r.key, err)
		if r.current != nil {
			if r.lastFail != err.Error() {
				r.log.Error("keeping the previous certificate", "tls", r.what, "err", err)
			}
			r.lastFail = err.Error()
			return r.current, nil
		}
		return nil, err
	}
	if c.Leaf == nil && len(c.Certificate) > 0 {
		c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
	}
	if r.current != nil {
		r.log.Info("reloaded a certificate", "tls", r.what, "cert", r.cert)
	}
	r.current, r.modCert, r.modKey, r.lastFail = &c, ci.ModTime(), ki.ModTime(), ""
	return r.current, nil
}

// Server returns the TLS configuration of a listener serving f's
// certificate (reloaded on change) and, with f.CAFile, requiring client
// certificates signed by that CA. what names the setting in errors.
func Server(what string, f Files, log *slog.Logger) (*tls.Config, *Reloader, error) {
	r, err := NewReloader(what, f.CertFile, f.KeyFile, log)
	if err != nil {
		return nil, nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.Certificate() }}
	if f.CAFile != "" {
		pool, err := LoadPool(what, f.CAFile)
		if err != nil {
			return nil, nil, err
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, r, nil
}

// LoadPool reads the PEM certificates of caFile into a pool.
func LoadPool(what, caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s: CA file: %w", what, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: CA file %s holds no PEM certificate", what, caFile)
	}
	return pool, nil
}

// Loopback reports whether a listen address host:port (or a bare host)
// is reachable only from this host: a loopback IP or "localhost". An empty
// host, 0.0.0.0 and :: listen on every interface.
func Loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
