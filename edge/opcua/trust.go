package opcua

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// Trust decides whether a server certificate is trusted: it is one of the
// trusted certificates (byte for byte), or a CA of the pool signed it; in
// both cases it must be valid now.
type Trust struct {
	certs [][]byte // DER
	roots *x509.CertPool
	now   func() time.Time
}

// LoadTrust reads the trusted server certificates and CA file of sec.
func LoadTrust(sec *Security) (*Trust, error) {
	t := &Trust{now: time.Now}
	for _, f := range sec.TrustedCerts {
		ders, err := readCerts(f)
		if err != nil {
			return nil, fmt.Errorf("trusted certificate %s: %w", f, err)
		}
		t.certs = append(t.certs, ders...)
	}
	if sec.CAFile != "" {
		ders, err := readCerts(sec.CAFile)
		if err != nil {
			return nil, fmt.Errorf("caFile %s: %w", sec.CAFile, err)
		}
		t.roots = x509.NewCertPool()
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return nil, fmt.Errorf("caFile %s: %w", sec.CAFile, err)
			}
			t.roots.AddCert(c)
		}
	}
	return t, nil
}

// Verify returns nil when der is trusted, else an error wrapping
// ErrUntrustedServer that says why.
func (t *Trust) Verify(der []byte) error {
	if len(der) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", ErrUntrustedServer)
	}
	// some servers send the chain: the leaf comes first
	certs, err := x509.ParseCertificates(der)
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("%w: not a certificate: %v", ErrUntrustedServer, err)
	}
	leaf := certs[0]
	now := t.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: %q is valid from %s to %s only", ErrUntrustedServer, leaf.Subject.CommonName,
			leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	for _, c := range t.certs {
		if bytes.Equal(c, leaf.Raw) {
			return nil
		}
	}
	if t.roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		// OPC-UA names applications by URI, not host name: no name check
		_, err := leaf.Verify(x509.VerifyOptions{Roots: t.roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err == nil {
			return nil
		}
		return fmt.Errorf("%w: %q (sha1 %x) is not in trustedCerts and caFile does not verify it: %v",
			ErrUntrustedServer, leaf.Subject.CommonName, thumbprint(leaf.Raw), err)
	}
	return fmt.Errorf("%w: %q (sha1 %x) is not in trustedCerts", ErrUntrustedServer, leaf.Subject.CommonName, thumbprint(leaf.Raw))
}

// readCerts reads the certificates of a PEM or DER file as DER.
func readCerts(name string) ([][]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if _, err := x509.ParseCertificates(data); err != nil {
			return nil, fmt.Errorf("neither PEM nor a DER certificate: %w", err)
		}
		return [][]byte{data}, nil
	}
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block in the PEM file")
	}
	return out, nil
}

// readKey reads an RSA private key (PEM: PKCS#1 or PKCS#8).
func readKey(name string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: not a PEM key", name)
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not an RSA private key: %w", name, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: OPC-UA needs an RSA key, got %T", name, k)
	}
	return rk, nil
}

// thumbprint is the certificate's SHA-1 digest, as OPC-UA tools show it.
func thumbprint(der []byte) []byte {
	h := sha1.Sum(der)
	return h[:]
}
