package selfsigned

import (
	"crypto/x509"
	"net"
	"slices"
	"testing"
)

func TestLoopback(t *testing.T) {
	cert, pool, err := Loopback("spdygo test")
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if leaf.Subject.CommonName != "localhost" || !slices.Equal(leaf.Subject.Organization, []string{"spdygo test"}) {
		t.Errorf("subject %v", leaf.Subject)
	}
	if !slices.Equal(leaf.DNSNames, []string{"localhost"}) {
		t.Errorf("DNS names %v", leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses %v", leaf.IPAddresses)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.test", Roots: pool}); err == nil {
		t.Error("verified for a host it was not made for")
	}
}

func TestNew(t *testing.T) {
	cert, pool, err := New("o", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "example.test", Roots: pool}); err != nil {
		t.Error(err)
	}
	if _, _, err := New("o"); err == nil {
		t.Error("New with no hosts returned no error")
	}
}
