package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// The kinds of errors, in the order the report lists them.
const (
	kindDial       = "dial"       // the TCP connection could not be made
	kindTLS        = "tls"        // TLS handshake, certificate or ALPN negotiation
	kindTimeout    = "timeout"    // -timeout ran out, or a connection deadline
	kindReset      = "reset"      // the stream was reset (RST_STREAM)
	kindGoAway     = "goaway"     // the server ended the session with GOAWAY
	kindConnection = "connection" // the connection failed or closed under the request
	kindProtocol   = "protocol"   // the server broke the protocol, or a bad response
	kindOther      = "other"
)

// errorKinds lists the kinds in report order.
var errorKinds = []string{kindDial, kindTLS, kindTimeout, kindReset, kindGoAway, kindConnection, kindProtocol, kindOther}

// errorKind returns the kind of err, the error of a connection's setup or
// of a request.
func errorKind(err error) string {
	var ce *connectError
	if errors.As(err, &ce) {
		return ce.kind
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout(),
		strings.Contains(err.Error(), "timeout awaiting response headers"):
		return kindTimeout
	}
	var reset *stream.ResetError
	if errors.As(err, &reset) {
		return kindReset
	}
	var goAway *session.GoAwayError
	if errors.As(err, &goAway) {
		return kindGoAway
	}
	var protoErr *session.ProtocolError
	if errors.As(err, &protoErr) {
		return kindProtocol
	}
	if isDialError(err) {
		return kindDial
	}
	if isTLSError(err) {
		return kindTLS
	}
	var transportErr *session.TransportError
	switch {
	case errors.As(err, &transportErr),
		errors.Is(err, httpadapter.ErrClientConnUnusable),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return kindConnection
	}
	msg := err.Error()
	for _, bad := range badResponse {
		if strings.Contains(msg, bad) {
			return kindProtocol
		}
	}
	return kindOther
}

// badResponse are the parts of the messages of net/http and httpadapter
// about a response that is not one; they have no error type to match.
var badResponse = []string{"malformed HTTP", "response without status", "invalid response status"}

// isDialError reports whether err is the failure of a dial.
func isDialError(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// isTLSError reports whether err comes from a TLS handshake or the
// verification of a certificate.
func isTLSError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var recErr tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &certErr) || errors.As(err, &alert) || errors.As(err, &recErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid)
}

// oneLine returns err's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
