// The REST listener: the http.Server with its timeouts, the connection cap,
// and TLS with certificates re-read when their files change.

package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// TLSConfig names the PEM certificate and key of the REST listener.
type TLSConfig struct {
	// CertFile is the certificate (chain), PEM.
	CertFile string `json:"certFile"`
	// KeyFile is the private key, PEM.
	KeyFile string `json:"keyFile"`
}

// HTTPServer returns the http.Server of the API with the configured
// timeouts. Serve it on Listener(ln).
func (s *Server) HTTPServer() *http.Server {
	h := s.Handler()
	c := s.Config.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       c.ReadTimeout.Std(),
		WriteTimeout:      c.WriteTimeout.Std(),
		IdleTimeout:       c.IdleTimeout.Std(),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log().Handler(), slog.LevelWarn),
	}
}

// Listener wraps ln with the connection cap (http.maxConns) and, when
// http.tls is set, TLS; the certificate and key are re-read on the first
// handshake after either file's modification time changes, so replacing
// them (certbot, a SIGHUP-less renewal) takes effect without a restart. It
// warns when the listener is plaintext on a non-loopback address.
func (s *Server) Listener(ln net.Listener) (net.Listener, error) {
	s.init()
	c := s.Config.HTTP
	ln = netutil.LimitListener(ln, c.MaxConns)
	if c.TLS == nil {
		if !loopback(ln.Addr()) {
			s.log().Warn("WARNING: the REST API listens in plaintext on a non-loopback address: passwords and tokens cross the network in clear; set http.tls (and http.requireTLS)",
				"addr", ln.Addr().String())
		}
		return ln, nil
	}
	cr := &certReloader{cert: c.TLS.CertFile, key: c.TLS.KeyFile, log: s.log()}
	if _, err := cr.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cr.get() }}
	return tls.NewListener(ln, cfg), nil
}

func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ok && ip.Unmap().IsLoopback()
}

// certReloader keeps a certificate and reloads it when a file changes.
type certReloader struct {
	cert, key string
	log       *slog.Logger

	mu       sync.Mutex
	current  *tls.Certificate
	modCert  time.Time
	modKey   time.Time
	checked  time.Time
	lastFail error
}

// get returns the certificate, re-reading the files when their
// modification times changed (checked at most once a second). A reload
// that fails keeps the previous certificate and logs why.
func (r *certReloader) get() (*tls.Certificate, error) {
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
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	if r.current != nil && ci.ModTime().Equal(r.modCert) && ki.ModTime().Equal(r.modKey) {
		return r.current, nil
	}
	c, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		err = fmt.Errorf("http.tls: load %s and %s: %w", r.cert, r.key, err)
		if r.current != nil {
			if r.lastFail == nil || r.lastFail.Error() != err.Error() {
				r.log.Error("keeping the previous REST certificate", "err", err)
			}
			r.lastFail = err
			return r.current, nil
		}
		return nil, err
	}
	if r.current != nil {
		r.log.Info("reloaded the REST certificate", "cert", r.cert)
	}
	r.current, r.modCert, r.modKey, r.lastFail = &c, ci.ModTime(), ki.ModTime(), nil
	return r.current, nil
}
