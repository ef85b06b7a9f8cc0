// Package selfsigned makes self-signed TLS certificates at run time, with a
// fresh ECDSA P-256 key that lives only in memory. The servers of the tests
// and spdyd's -tls-self-signed use them.
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"time"
)

// Loopback returns a certificate for localhost, 127.0.0.1 and ::1 with
// org as its subject's organization, and a pool that trusts it.
func Loopback(org string) (tls.Certificate, *x509.CertPool, error) {
	return New(org, "localhost", "127.0.0.1", "::1")
}

// New returns a certificate for hosts (DNS names or IP addresses; the
// first is also the subject's common name) with org as its subject's
// organization, and a pool that trusts it. The certificate is its own
// issuer and is valid for a week from an hour ago.
func New(org string, hosts ...string) (tls.Certificate, *x509.CertPool, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, nil, errors.New("selfsigned: no hosts")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
