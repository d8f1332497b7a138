package broker

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
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gridedge-hub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestLeafTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	b, err := Start(Options{Domain: "d", ServerName: "hub", LeafListen: "127.0.0.1:0", StoreDir: t.TempDir(),
		LeafTLSCert: certFile, LeafTLSKey: keyFile,
		Edges: []EdgeCredential{{ID: "e1", Password: "secret-1-long"}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	u, _ := url.Parse(b.LeafURL())
	if u.Scheme != "tls" {
		t.Fatalf("leaf URL %s: want a tls:// URL", b.LeafURL())
	}
	u.User = url.UserPassword("e1", "secret-1-long")
	start := func(name string, tc *tls.Config) *server.Server {
		remote := &server.RemoteLeafOpts{URLs: []*url.URL{u}}
		if tc != nil {
			remote.TLS, remote.TLSConfig = true, tc
		}
		srv, err := server.NewServer(&server.Options{ServerName: name, Port: -1, NoSigs: true, NoLog: true,
			LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{remote}}})
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		srv.ReadyForConnections(5 * time.Second)
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		return srv
	}
	// a plaintext leaf and one that does not trust the certificate never connect
	start("plain", nil)
	start("untrusting", &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	time.Sleep(500 * time.Millisecond)
	if n := b.NumLeafNodes(); n != 0 {
		t.Fatalf("%d leaf nodes connected without valid TLS", n)
	}
	start("trusting", &tls.Config{ServerName: "127.0.0.1", RootCAs: pool, MinVersion: tls.VersionTLS12})
	deadline := time.Now().Add(10 * time.Second)
	for b.NumLeafNodes() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the TLS leaf did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
