package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// exitError is a failure with its exit status and a one-line message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// connectError marks an error of establishing a connection: dialing, the
// TLS handshake, or agreeing on a protocol.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// writeError marks an error of writing the output.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// classify returns the exit status of err and a one-line message for it.
func classify(err error) *exitError {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	var we *writeError
	if errors.As(err, &we) {
		return &exitError{exitWrite, "write error: " + oneLine(we.err)}
	}
	switch {
	case err == context.DeadlineExceeded:
		return &exitError{exitTimeout, "timed out"}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return &exitError{exitTimeout, "timed out: " + oneLine(err)}
	case errors.Is(err, context.Canceled):
		return &exitError{exitInterrupts, "interrupted"}
	}
	if isConnectError(err) {
		return &exitError{exitConnect, "could not connect: " + oneLine(err)}
	}
	return &exitError{exitProtocol, "protocol error: " + oneLine(err)}
}

// isConnectError reports whether err happened before a session was
// established: a dial, a TLS handshake or certificate, or negotiation.
func isConnectError(err error) bool {
	var ce *connectError
	if errors.As(err, &ce) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var recErr tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &dnsErr) || errors.As(err, &certErr) || errors.As(err, &alert) || errors.As(err, &recErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return true
	}
	return false
}

// oneLine returns err's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// httpError is the failure -f reports for a status of 400 or more.
func httpError(code int) *exitError {
	return &exitError{exitHTTP, fmt.Sprintf("the requested URL returned error: %d", code)}
}
