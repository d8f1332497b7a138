// Package tlstest generates certificates for tests of GridEdge's TLS
// listeners and links: a throw-away CA that issues server and client
// certificates written as PEM files into a test's temporary directory.
// Only tests import it.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

var serial atomic.Int64

// CA is a certificate authority of one test.
type CA struct {
	// Cert is the CA's certificate.
	Cert *x509.Certificate
	// CertFile is the CA's certificate as a PEM file.
	CertFile string
	key      *ecdsa.PrivateKey
	dir      string
}

// NewCA creates a CA named cn whose files live in t.TempDir().
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create the CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse the CA certificate: %v", err)
	}
	ca := &CA{Cert: cert, key: key, dir: t.TempDir()}
	ca.CertFile = filepath.Join(ca.dir, cn+"-ca.pem")
	writePEM(t, ca.CertFile, "CERTIFICATE", der)
	return ca
}

// Pool is a certificate pool trusting the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Server issues a server certificate for 127.0.0.1, ::1 and localhost with
// the common name cn, and writes it and its key to certFile and keyFile
// (paths in ca's directory when they are relative). It returns the
// certificate.
func (ca *CA) Server(t testing.TB, cn, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	return ca.issue(t, cn, certFile, keyFile, x509.ExtKeyUsageServerAuth)
}

// Client issues a client certificate with the common name cn, written like
// Server's.
func (ca *CA) Client(t testing.TB, cn, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	return ca.issue(t, cn, certFile, keyFile, x509.ExtKeyUsageClientAuth)
}

// Peer issues a certificate for both server and client authentication
// (a NATS route or gateway certificate, which both answers and dials),
// written like Server's.
func (ca *CA) Peer(t testing.TB, cn, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	return ca.issue(t, cn, certFile, keyFile, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
}

// Path returns name in the CA's directory.
func (ca *CA) Path(name string) string { return filepath.Join(ca.dir, name) }

func (ca *CA) issue(t testing.TB, cn, certFile, keyFile string, usage ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("issue a certificate for %s: %v", cn, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("encode the key of %s: %v", cn, err)
	}
	if !filepath.IsAbs(certFile) {
		certFile = ca.Path(certFile)
	}
	if !filepath.IsAbs(keyFile) {
		keyFile = ca.Path(keyFile)
	}
	// the key first: a reloader that sees the new certificate then finds its key
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	writePEM(t, certFile, "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse the certificate of %s: %v", cn, err)
	}
	return cert
}

// KeyPair loads certFile and keyFile for a tls.Config.
func KeyPair(t testing.TB, certFile, keyFile string) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("load %s and %s: %v", certFile, keyFile, err)
	}
	return c
}

// PeerCertificate dials addr with TLS (trusting any certificate, sending
// no client certificate unless tc has one) and returns the certificate the
// server presented. tc may be nil.
func PeerCertificate(t testing.TB, addr string, tc *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	tc.InsecureSkipVerify = true //nolint:gosec // the test inspects whatever is served
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, tc)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate a key: %v", err)
	}
	return k
}

// writePEM replaces path atomically, with a modification time later than
// the previous file's even on file systems with coarse timestamps.
func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	var old time.Time
	if fi, err := os.Stat(path); err == nil {
		old = fi.ModTime()
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if !old.IsZero() {
		mt := time.Now()
		if !mt.After(old) {
			mt = old.Add(time.Second)
		}
		if err := os.Chtimes(tmp, mt, mt); err != nil {
			t.Fatalf("set the time of %s: %v", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("replace %s: %v", path, err)
	}
}
