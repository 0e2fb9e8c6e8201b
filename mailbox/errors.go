package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/emersion/go-imap/v2"
)

// Sentinels matched with errors.Is against an *Error.
var (
	// ErrAuth: the server refused the credentials or the token. Permanent
	// until someone fixes the configuration or the token.
	ErrAuth = errors.New("imap authentication failed")
	// ErrNoMailbox: a mailbox does not exist (and could not be created).
	ErrNoMailbox = errors.New("imap mailbox does not exist")
	// ErrClosed: the connection is gone (closed by us, the server, a timeout
	// or the network). Temporary: reconnect.
	ErrClosed = errors.New("imap connection closed")
)

// Error is what every mailbox operation returns on failure. It names the
// operation and the mailbox, never message content or addresses.
type Error struct {
	Op      string // "dial", "login", "select", "fetch", "move", ...
	Mailbox string // mailbox name, "" when none applies
	Err     error  // the cause, from go-imap, the network or the token source

	temporary bool
	kind      error // one of the sentinels, or nil
}

// Error implements error.
func (e *Error) Error() string {
	s := "imap " + e.Op
	if e.Mailbox != "" {
		s += " " + e.Mailbox
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.temporary {
		s += " (temporary: will retry)"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinels ErrAuth, ErrNoMailbox and ErrClosed.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Temporary reports whether retrying later (after reconnecting) may succeed:
// network failures, timeouts, BYE, server-side unavailability, and any
// failure that says nothing more (retry.Temporary's rule). Authentication
// failures, missing mailboxes, untrusted certificates and refusals of a
// command are permanent; the caller giving up is neither.
func (e *Error) Temporary() bool { return e.temporary }

// wrap classifies err as an *Error for op on mailbox. It returns nil for nil.
func wrap(op, mailbox string, err error) error {
	if err == nil {
		return nil
	}
	var me *Error
	if errors.As(err, &me) {
		return err
	}
	e := &Error{Op: op, Mailbox: mailbox, Err: err}
	var ie *imap.Error
	var te *TokenError
	var ne net.Error
	switch {
	case errors.As(err, &te):
		e.kind = ErrAuth
		e.temporary = te.Temporary()
	case isCertError(err):
		// An untrusted or misnamed certificate: fix the configuration.
	case errors.As(err, &ie):
		switch ie.Type {
		case imap.StatusResponseTypeBye:
			e.kind, e.temporary = ErrClosed, true
		case imap.StatusResponseTypeNo, imap.StatusResponseTypeBad:
			switch ie.Code {
			case imap.ResponseCodeAuthenticationFailed, imap.ResponseCodeAuthorizationFailed,
				imap.ResponseCodeExpired, imap.ResponseCodePrivacyRequired, imap.ResponseCodeContactAdmin:
				e.kind = ErrAuth
			case imap.ResponseCodeNonExistent, imap.ResponseCodeTryCreate:
				e.kind = ErrNoMailbox
			case imap.ResponseCodeUnavailable, imap.ResponseCodeInUse, imap.ResponseCodeLimit,
				imap.ResponseCodeServerBug, imap.ResponseCodeOverQuota:
				e.temporary = true
			default:
				switch op {
				case "login":
					e.kind = ErrAuth
				case "select":
					// Dovecot and Exchange answer a missing mailbox with
					// a bare NO.
					e.kind = ErrNoMailbox
				}
			}
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.kind, e.temporary = ErrClosed, true
	case errors.Is(err, context.Canceled):
		// The caller gave up: not temporary, nothing to retry.
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		e.kind, e.temporary = ErrClosed, true
	case errors.Is(err, ErrClosed):
		e.kind, e.temporary = ErrClosed, true
	default:
		// go-imap reports I/O and decoding failures as plain text errors;
		// they end the connection, and a new one may well succeed.
		e.temporary = true
	}
	return e
}

// isCertError reports whether err is a failure to verify the server's
// certificate.
func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
