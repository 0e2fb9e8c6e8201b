// Package pgcluster starts a throwaway PostgreSQL cluster for `optoutd demo`
// (and tests) when no DATABASE_URL is given: initdb into a temporary
// directory, pg_ctl start on a free loopback port with trust authentication
// and no durability (fsync off), and Stop removes it all again.
//
// initdb and pg_ctl are found on PATH or in /usr/lib/postgresql/*/bin (the
// newest version first). initdb refuses to run as root, so when the process
// is root the commands run as the `postgres` user through `runuser -u
// postgres --`. When PostgreSQL is not installed, Start returns
// ErrNotInstalled, whose message says how to install it.
//
// The package owns the cluster's directory and process for as long as the
// Cluster lives; nothing is kept after Stop. The cluster listens on
// 127.0.0.1 only and trusts every local connection, so it must never hold
// real residents' data.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotInstalled is returned by Find and Start when neither PATH nor
// /usr/lib/postgresql/*/bin holds initdb and pg_ctl.
var ErrNotInstalled = errors.New("PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: " +
	"install them with `sudo apt-get install postgresql` (Debian/Ubuntu), or set DATABASE_URL to an existing database")

// SystemDirs is the glob searched after PATH for PostgreSQL's programs.
const SystemDirs = "/usr/lib/postgresql/*/bin"

// Options configure Start. The zero value is usable.
type Options struct {
	// BinDir holds initdb and pg_ctl. Default: found by Find.
	BinDir string
	// Database is the database created for the caller (default "optout").
	Database string
	// Timeout bounds initdb plus start-up (default 60 s).
	Timeout time.Duration
	// Log, when set, receives the output of initdb and pg_ctl (it is
	// discarded otherwise, and quoted in the error when a step fails).
	Log func(line string)
}

// Cluster is a running throwaway cluster.
type Cluster struct {
	bin    string
	dir    string
	data   string
	port   int
	db     string
	asUser []string // command prefix that runs a program as postgres, or nil

	stopOnce sync.Once
	stopErr  error
}

// Find returns the directory holding initdb and pg_ctl: PATH first, then
// the newest /usr/lib/postgresql/N/bin. It returns ErrNotInstalled when
// there is none.
func Find() (string, error) { return find(exec.LookPath, SystemDirs) }

func find(lookPath func(string) (string, error), glob string) (string, error) {
	if p, err := lookPath("initdb"); err == nil {
		// Debian links some programs into /usr/local/bin or /usr/bin: prefer
		// the directory the link points into, which holds all of them.
		cands := []string{p}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			cands = []string{real, p}
		}
		for _, cand := range cands {
			if dir := filepath.Dir(cand); isExec(filepath.Join(dir, "pg_ctl")) {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob(glob)
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// versionOf reads N from /usr/lib/postgresql/N/bin (0 when it is not a number).
func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates and starts a cluster. Call Stop (also after a failed
// caller) to stop it and remove its files.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.BinDir == "" {
		dir, err := Find()
		if err != nil {
			return nil, err
		}
		opts.BinDir = dir
	}
	if opts.Database == "" {
		opts.Database = "optout"
	}
	if !validName(opts.Database) {
		return nil, fmt.Errorf("pgcluster: database name %q: use lower-case letters, digits and '_'", opts.Database)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "optout-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: make a temporary directory: %w", err)
	}
	c := &Cluster{bin: opts.BinDir, dir: dir, data: filepath.Join(dir, "data"), db: opts.Database}
	if os.Geteuid() == 0 {
		if err := c.runAsPostgres(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := c.start(ctx, opts); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// runAsPostgres prepares running the server as the postgres user (initdb
// refuses root): the directory is given to that user and commands go
// through runuser.
func (c *Cluster) runAsPostgres() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs a `postgres` user to run the server (initdb refuses root); install the postgresql package or run as another user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.dir, uid, gid); err != nil {
		return fmt.Errorf("pgcluster: give the cluster directory to postgres: %w", err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs runuser (util-linux) to start the server as postgres: %w", err)
	}
	c.asUser = []string{runuser, "-u", "postgres", "--"}
	return nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	if _, err := c.run(ctx, opts, "initdb", "-D", c.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		return err
	}
	// The port is free when chosen but another process could take it before
	// the server binds it: try a few times.
	var err error
	for range 3 {
		if c.port, err = freePort(); err != nil {
			return err
		}
		serverOpts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
		_, err = c.run(ctx, opts, "pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "-o", serverOpts, "start")
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("%w; server log: %s", err, c.logTail())
	}
	return c.createDatabase(ctx)
}

// createDatabase creates the caller's database with createdb; where that
// program is missing, the caller gets the "postgres" database instead.
func (c *Cluster) createDatabase(ctx context.Context) error {
	if c.db == "postgres" {
		return nil
	}
	createdb := filepath.Join(c.bin, "createdb")
	if !isExec(createdb) {
		c.db = "postgres"
		return nil
	}
	_, err := c.run(ctx, Options{}, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", c.db)
	return err
}

// run runs one of PostgreSQL's programs (as postgres when root) and returns
// its output; a failure quotes the end of the output.
func (c *Cluster) run(ctx context.Context, opts Options, prog string, args ...string) ([]byte, error) {
	argv := append(append(slices.Clone(c.asUser), filepath.Join(c.bin, prog)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "PGTZ=UTC")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if opts.Log != nil {
		for line := range strings.Lines(out.String()) {
			opts.Log(strings.TrimRight(line, "\n"))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return out.Bytes(), fmt.Errorf("pgcluster: %s failed: %w: %s", prog, err, tail(out.Bytes(), 600))
	}
	return out.Bytes(), nil
}

// URL is the connection URL of the cluster's database (user postgres, no password).
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, c.db)
}

// Port is the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// Stop stops the server (fast shutdown) and removes its directory. It is
// safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, c.stopErr = c.run(ctx, Options{}, "pg_ctl", "-D", c.data, "-m", "fast", "-w", "stop")
			cancel()
		}
		if err := os.RemoveAll(c.dir); err != nil && c.stopErr == nil {
			c.stopErr = fmt.Errorf("pgcluster: remove %s: %w", c.dir, err)
		}
	})
	return c.stopErr
}

func (c *Cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return "(none)"
	}
	return string(tail(b, 600))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch == '_' || i > 0 && ch >= '0' && ch <= '9') {
			return false
		}
	}
	return true
}

func tail(b []byte, n int) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b
}
