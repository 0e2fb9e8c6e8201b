// Package dovecot starts a private Dovecot IMAP server as a child process, for
// tests of code that talks IMAP.
//
// Each Server owns a directory (configuration, passwd-file of users, base_dir
// for sockets, maildirs) that is removed when the server stops. It listens on
// free loopback ports: one plain port that also offers STARTTLS, and one port
// with implicit TLS, both with a self-signed certificate whose pool is in
// Server.RootCAs. Users log in with AUTH PLAIN or LOGIN and the passwords given
// to AddUser. Nothing here is meant for production.
//
// Debian's dovecot-imapd package provides /usr/sbin/dovecot; Start fails the
// test with the install command when it is missing, it never skips.
package dovecot

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// mailUID and mailGID own the maildirs: Dovecot refuses to run mail
// processes as root, and "nobody" exists on every Debian system.
const (
	mailUID = 65534
	mailGID = 65534
)

// Server is a running private Dovecot.
type Server struct {
	// Addr is host:port of the plain IMAP listener (STARTTLS offered).
	Addr string
	// TLSAddr is host:port of the implicit-TLS IMAP listener.
	TLSAddr string
	// RootCAs holds the self-signed certificate both listeners present, for
	// the name "localhost" and the address 127.0.0.1.
	RootCAs *x509.CertPool

	dir    string
	binary string

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	users map[string]string
}

// Options tunes a Server. The zero value is fine for most tests.
type Options struct {
	// ExtraConfig is appended to the generated dovecot.conf.
	ExtraConfig string
	// OAuth2IntrospectionURL, when set, enables AUTH=XOAUTH2 and
	// AUTH=OAUTHBEARER: Dovecot POSTs each bearer token (form field
	// "token") to this URL, which must answer JSON
	// {"active": "true", "username": "<user>"} for a valid one. The user must
	// also be added with AddUser (for its maildir).
	OAuth2IntrospectionURL string
}

// Binary is where Debian's dovecot-imapd installs the server.
const Binary = "/usr/sbin/dovecot"

// Start starts a private Dovecot and stops it when the test ends. It fails
// tb (never skips) when Dovecot is missing or does not start.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith is Start with options.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("start dovecot: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop dovecot: %v", err)
		}
		if tb.Failed() {
			if b, err := os.ReadFile(filepath.Join(s.dir, "dovecot.log")); err == nil {
				tb.Logf("dovecot log (last 4 KB):\n%s", tail(b, 4096))
			}
		}
		s.Remove()
	})
	return s
}

// New starts a private Dovecot without a testing.TB (for TestMain). The
// caller must call Stop and Remove.
func New(opts Options) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("dovecot is not installed (%w): install it with `apt-get install -y dovecot-imapd`", err)
	}
	if os.Geteuid() != 0 {
		// Dovecot's master must start as root to switch to the mail user.
		return nil, errors.New("the dovecot test harness must run as root (Dovecot switches to the mail user); run the tests as root or in the project's test container")
	}
	dir, err := os.MkdirTemp("", "optout-dovecot-")
	if err != nil {
		return nil, fmt.Errorf("create dovecot directory: %w", err)
	}
	// Dovecot's unprivileged processes must be able to traverse the tree.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open up dovecot directory: %w", err)
	}
	s := &Server{dir: dir, binary: bin, users: map[string]string{}}
	if err := s.setup(opts); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) setup(opts Options) error {
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return fmt.Errorf("create dovecot directory: %w", err)
		}
	}
	if err := os.Chown(filepath.Join(s.dir, "mail"), mailUID, mailGID); err != nil {
		return fmt.Errorf("hand maildir to the mail user: %w", err)
	}
	if err := os.MkdirAll(s.path("users.d"), 0o755); err != nil {
		return fmt.Errorf("create dovecot users directory: %w", err)
	}
	pool, err := writeCert(s.path("cert.pem"), s.path("key.pem"))
	if err != nil {
		return err
	}
	s.RootCAs = pool
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	s.TLSAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	mechs := "plain login"
	oauth := ""
	if opts.OAuth2IntrospectionURL != "" {
		mechs += " xoauth2 oauthbearer"
		ext := "introspection_mode = post\nintrospection_url = " + opts.OAuth2IntrospectionURL +
			"\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n"
		if err := os.WriteFile(s.path("oauth2.conf.ext"), []byte(ext), 0o644); err != nil {
			return fmt.Errorf("write dovecot oauth2 config: %w", err)
		}
		oauth = "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = " + s.path("oauth2.conf.ext") + "\n}\n"
	}
	conf := fmt.Sprintf(`# generated by internal/dovecot for tests
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
disable_plaintext_auth = no
auth_mechanisms = %[7]s
auth_failure_delay = 0
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:%[1]s/mail/%%u
mail_fsync = never
namespace inbox {
  inbox = yes
  separator = /
}
%[8]spassdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users.d/%%u
}
userdb {
  driver = static
  args = uid=%[4]d gid=%[5]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[3]d
    ssl = yes
  }
}
%[6]s
`, s.dir, ports[0], ports[1], mailUID, mailGID, opts.ExtraConfig, mechs, oauth)
	if err := os.WriteFile(s.path("dovecot.conf"), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write dovecot.conf: %w", err)
	}
	return nil
}

func (s *Server) path(name string) string { return filepath.Join(s.dir, name) }

// Dir is the server's directory (configuration, log, maildirs).
func (s *Server) Dir() string { return s.dir }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("dovecot is already running")
	}
	cmd := exec.Command(s.binary, "-F", "-c", s.path("dovecot.conf"))
	// A file, not a pipe: children inherit it, and a pipe would make Wait
	// wait for the last of them.
	stderr, err := os.OpenFile(s.path("stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open dovecot stderr log: %w", err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.binary, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := greet(s.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			log, _ := os.ReadFile(s.path("dovecot.log"))
			errLog, _ := os.ReadFile(s.path("stderr.log"))
			return fmt.Errorf("dovecot exited at start-up: %s %s", tail(errLog, 1024), tail(log, 2048))
		default:
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("dovecot did not greet on %s within 15s: %w", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// greet checks that an IMAP greeting arrives on addr.
func greet(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 512)
	var got []byte
	for !bytes.Contains(got, []byte("ready")) {
		n, err := conn.Read(buf)
		if err != nil {
			return fmt.Errorf("read greeting: %w", err)
		}
		got = append(got, buf[:n]...)
		if len(got) > 4096 {
			return errors.New("greeting too long")
		}
	}
	return nil
}

// Stop stops Dovecot and waits for it to exit. Stopping a stopped server is
// not an error.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	if s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	// Mail processes outlive the master: end the rest of its process group
	// so that every client connection drops, as in a real restart.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	s.cmd = nil
	return nil
}

// Restart stops Dovecot (dropping every connection) and starts it again on
// the same ports with the same mail.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	var err error
	for range 50 { // the ports may linger briefly
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart dovecot: %w", err)
}

// Remove deletes the server's directory. Call it after Stop.
func (s *Server) Remove() {
	_ = os.RemoveAll(s.dir)
}

// AddUser adds a user with a plain password. Each user has its own
// passwd-file, so a new user can log in at once; changing the password of an
// existing user is not supported (Dovecot caches the file for a second).
func (s *Server) AddUser(name, pass string) error {
	if name == "" || strings.ContainsAny(name+pass, ":/\n\r") || strings.HasPrefix(name, ".") {
		return errors.New("add dovecot user: name and password must not contain ':', '/' or line breaks")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; ok {
		return fmt.Errorf("add dovecot user %s: already added", name)
	}
	line := fmt.Sprintf("%s:{PLAIN}%s::::::\n", name, pass)
	if err := os.WriteFile(filepath.Join(s.dir, "users.d", name), []byte(line), 0o644); err != nil {
		return fmt.Errorf("write dovecot user: %w", err)
	}
	s.users[name] = pass
	return nil
}

// Login opens a plain IMAP connection logged in as user, for test set-up.
func (s *Server) Login(user string) (*imapclient.Client, error) {
	s.mu.Lock()
	pass, ok := s.users[user]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dovecot user %q was not added", user)
	}
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		return nil, fmt.Errorf("dial dovecot: %w", err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("log in to dovecot: %w", err)
	}
	return c, nil
}

// Append stores raw in user's mailbox (created when missing) with IMAP
// APPEND and returns its UID.
func (s *Server) Append(user, mailbox string, raw []byte) (imap.UID, error) {
	c, err := s.Login(user)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	uids, err := AppendAll(c, mailbox, [][]byte{raw})
	if err != nil {
		return 0, err
	}
	return uids[0], nil
}

// AppendAll stores each message in mailbox (created when missing) over an
// existing connection and returns their UIDs.
func AppendAll(c *imapclient.Client, mailbox string, raws [][]byte) ([]imap.UID, error) {
	if mailbox != "INBOX" {
		if err := c.Create(mailbox, nil).Wait(); err != nil {
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAlreadyExists {
				return nil, fmt.Errorf("create mailbox %s: %w", mailbox, err)
			}
		}
	}
	uids := make([]imap.UID, 0, len(raws))
	for _, raw := range raws {
		cmd := c.Append(mailbox, int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			cmd.Close()
			return uids, fmt.Errorf("append to %s: %w", mailbox, err)
		}
		if err := cmd.Close(); err != nil {
			return uids, fmt.Errorf("append to %s: %w", mailbox, err)
		}
		data, err := cmd.Wait()
		if err != nil {
			return uids, fmt.Errorf("append to %s: %w", mailbox, err)
		}
		uids = append(uids, data.UID)
	}
	return uids, nil
}

// Count returns how many messages user's mailbox holds, and how many of them
// carry the \Deleted flag.
func (s *Server) Count(user, mailbox string) (total, deleted int, err error) {
	c, err := s.Login(user)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	data, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("examine %s: %w", mailbox, err)
	}
	sd, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("search %s: %w", mailbox, err)
	}
	return int(data.NumMessages), len(sd.AllUIDs()), nil
}

// TLSConfig returns a client TLS configuration that trusts the server.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// freePorts returns n distinct free loopback ports. It holds every
// listener open until all are found: a port closed before the next is
// asked for may be handed out again, and dovecot refuses a configuration
// that names one port twice ("duplicate listener").
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeCert(certPath, keyPath string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate test key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create test certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode test key: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("write test certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, fmt.Errorf("write test key: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse test certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
