package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"

	"github.com/spdygo/spdy/internal/selfsigned"
)

// selfSignedCert returns a certificate for 127.0.0.1, ::1 and localhost
// with a fresh ECDSA P-256 key, valid for a week from an hour ago. The key
// lives only in memory.
func selfSignedCert() (tls.Certificate, error) {
	cert, _, err := selfsigned.Loopback("spdyd self-signed")
	return cert, err
}

// fingerprint returns the SHA-256 of a certificate's DER bytes in hex.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
