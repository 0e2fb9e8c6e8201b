package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/ncl-icb/optout-intake/internal/retry"
)

func TestHeaderOfAndMessageID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw        string
		wantHeader string
		wantID     string
	}{
		{"Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody\r\n", "Message-ID: <a@b>\r\nSubject: x\r\n\r\n", "<a@b>"},
		{"message-id:   <lf@b>  \nX: y\n\nbody", "message-id:   <lf@b>  \nX: y\n\n", "<lf@b>"},
		{"Subject: no id\r\n\r\n", "Subject: no id\r\n\r\n", ""},
		{"Subject: truncated header without end", "Subject: truncated header without end", ""},
		{"", "", ""},
		{"\r\n\r\nMessage-ID: <in-body@b>\r\n", "\r\n\r\n", ""},
		{"Message-ID: <" + strings.Repeat("x", 2000) + ">\r\n\r\n", "Message-ID: <" + strings.Repeat("x", 2000) + ">\r\n\r\n", ""},
		{"Bad header line\r\nMessage-ID: <after-bad@b>\r\n\r\n", "Bad header line\r\nMessage-ID: <after-bad@b>\r\n\r\n", ""},
	}
	for _, tt := range tests {
		if got := string(headerOf([]byte(tt.raw))); got != tt.wantHeader {
			t.Errorf("headerOf(%.40q) = %.40q, want %.40q", tt.raw, got, tt.wantHeader)
		}
		if got := messageID([]byte(tt.raw)); got != tt.wantID {
			t.Errorf("messageID(%.40q) = %q, want %q", tt.raw, got, tt.wantID)
		}
	}
}

func TestWrapClassification(t *testing.T) {
	t.Parallel()
	no := func(code imap.ResponseCode) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: "x"}
	}
	tests := []struct {
		op       string
		err      error
		wantKind error
		wantTemp bool
	}{
		{"login", no(imap.ResponseCodeAuthenticationFailed), ErrAuth, false},
		{"login", no(""), ErrAuth, false},
		{"select", no(""), ErrNoMailbox, false},
		{"move", no(imap.ResponseCodeTryCreate), ErrNoMailbox, false},
		{"fetch", no(imap.ResponseCodeUnavailable), nil, true},
		{"fetch", no(imap.ResponseCodeServerBug), nil, true},
		{"fetch", no(""), nil, false},
		{"fetch", &imap.Error{Type: imap.StatusResponseTypeBad, Text: "x"}, nil, false},
		{"fetch", &imap.Error{Type: imap.StatusResponseTypeBye, Text: "x"}, ErrClosed, true},
		{"fetch", io.EOF, ErrClosed, true},
		{"fetch", fmt.Errorf("read: %w", syscall.ECONNRESET), ErrClosed, true},
		{"fetch", context.DeadlineExceeded, ErrClosed, true},
		{"fetch", context.Canceled, nil, false},
		{"fetch", errors.New("in response: cannot read tag"), nil, true},
		{"token", &TokenError{Flow: "x", temporary: true}, ErrAuth, true},
		{"token", &TokenError{Flow: "x"}, ErrAuth, false},
		{"tls", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, nil, false},
	}
	for _, tt := range tests {
		err := wrap(tt.op, "INBOX", tt.err)
		if retry.Temporary(err) != tt.wantTemp {
			t.Errorf("wrap(%s, %v): Temporary() = %v, want %v", tt.op, tt.err, retry.Temporary(err), tt.wantTemp)
		}
		for _, k := range []error{ErrAuth, ErrNoMailbox, ErrClosed} {
			if errors.Is(err, k) != (k == tt.wantKind) {
				t.Errorf("wrap(%s, %v): errors.Is(%v) = %v", tt.op, tt.err, k, errors.Is(err, k))
			}
		}
		if !errors.Is(err, tt.err) && !errors.Is(err, context.Canceled) {
			t.Errorf("wrap(%s, %v) does not wrap its cause", tt.op, tt.err)
		}
	}
	if wrap("x", "", nil) != nil {
		t.Errorf("wrap(nil) != nil")
	}
}
