// The REST listener: the http.Server with its timeouts, the connection cap,
// and TLS with certificates re-read when their files change.

package api

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/gridedge/gridedge/shared/tlsconf"
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
		if !tlsconf.Loopback(ln.Addr().String()) {
			s.log().Warn("WARNING: the REST API listens in plaintext on a non-loopback address: passwords and tokens cross the network in clear; set http.tls (and http.requireTLS)",
				"addr", ln.Addr().String())
		}
		return ln, nil
	}
	cfg, _, err := tlsconf.Server("http.tls", tlsconf.Files{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile}, s.log())
	if err != nil {
		return nil, err
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return tls.NewListener(ln, cfg), nil
}
