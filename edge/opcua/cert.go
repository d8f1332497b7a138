package opcua

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// CertOptions describe an application instance certificate.
type CertOptions struct {
	// CommonName is the subject's CN.
	CommonName string
	// ApplicationURI is the URI SAN OPC-UA identifies the application by.
	ApplicationURI string
	// Hosts are DNS names or IP addresses put in the SANs.
	Hosts []string
	// NotBefore and NotAfter bound the validity (default: now-1h to now+1 year).
	NotBefore, NotAfter time.Time
	// Issuer signs the certificate (nil: self-signed).
	Issuer *x509.Certificate
	// IssuerKey is Issuer's key.
	IssuerKey *rsa.PrivateKey
	// IsCA makes a CA certificate.
	IsCA bool
}

// NewCert makes an RSA-2048 certificate for an OPC-UA application, as
// OPC-UA wants it (key and data encipherment, client and server auth, the
// application URI as a SAN), and returns its DER bytes, its parsed form
// and its key. `gridedge opcua` uses one for a session when no
// certificate is given; the tests make servers' and CAs' with it.
func NewCert(o CertOptions) (der []byte, cert *x509.Certificate, key *rsa.PrivateKey, err error) {
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serial number: %w", err)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().AddDate(1, 0, 0)
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: o.CommonName, Organization: []string{"GridEdge"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment |
			x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
	}
	if o.IsCA {
		tpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if o.ApplicationURI != "" {
		u, err := url.Parse(o.ApplicationURI)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("application URI %q: %w", o.ApplicationURI, err)
		}
		tpl.URIs = []*url.URL{u}
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	parent, signer := tpl, key
	if o.Issuer != nil {
		parent, signer = o.Issuer, o.IssuerKey
	}
	der, err = x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	return der, cert, key, nil
}

// PEMCert and PEMKey encode a certificate and an RSA key as PEM.
func PEMCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// PEMKey encodes an RSA private key as PKCS#1 PEM.
func PEMKey(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}
