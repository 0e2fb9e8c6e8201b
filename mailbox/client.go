package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/ncl-icb/optout-intake/internal/retry"
)

// UID is an IMAP unique identifier, valid with its mailbox's UIDVALIDITY.
type UID = imap.UID

// maxHeaderBytes caps the header of an over-size message.
const maxHeaderBytes = 256 << 10

// Status describes the selected mailbox and the server's abilities.
type Status struct {
	Mailbox     string
	UIDValidity uint32
	UIDNext     UID    // 0 when the server did not say
	Messages    uint32 // messages in the mailbox
	HasMove     bool   // server has MOVE (RFC 6851)
	HasUIDPlus  bool   // server has UIDPLUS (UID EXPUNGE)
	HasIdle     bool   // server has IDLE
}

// Cursor is where the last poll stopped: the caller stores it and passes it to
// the next FetchNew. The zero Cursor means "from the beginning".
type Cursor struct {
	UIDValidity uint32
	LastUID     UID
}

// Msg is one message handed to a FetchNew or ScanSince callback.
type Msg struct {
	Mailbox      string
	UIDValidity  uint32
	UID          UID
	Size         int64     // RFC822.SIZE, as the server reports it
	InternalDate time.Time // when the server received it
	MessageID    string    // the Message-ID header as written; "" when missing
	Seen         bool      // the \Seen flag was set (someone read it)
	// TooLarge is set when Size is over Config.MaxMessageBytes: Raw then holds
	// the header only (at most 256 KiB) and the body was never downloaded.
	TooLarge bool
	// Raw is the whole message (RFC 5322), or its header when TooLarge. The
	// callback may keep it; it is not reused.
	Raw []byte
}

// FetchResult reports what FetchNew did.
type FetchResult struct {
	// Next is the cursor to store: the UIDVALIDITY of the mailbox and the last
	// UID handed to the callback without error.
	Next Cursor
	// ValidityChanged is set when the mailbox's UIDVALIDITY differs from the
	// cursor's: every UID the caller stored is void, and FetchNew started
	// again from the first message (the ledger makes re-seeing harmless).
	ValidityChanged bool
	// Delivered counts callback calls that returned nil.
	Delivered int
}

// Client is one logged-in IMAP connection. Its methods are safe to call from
// several goroutines but run one at a time. A Client whose operation failed
// with a temporary error is broken: close it and dial again (Session does).
type Client struct {
	cfg  Config
	log  *slog.Logger
	conn net.Conn
	c    *imapclient.Client

	mu       sync.Mutex // one operation at a time
	caps     imap.CapSet
	selected string
	status   Status
	broken   atomic.Bool
	changes  chan struct{} // new mail announced (EXISTS)
	moveVia  string        // "move" or "copy": how the last Move went (tests)
}

// Dial connects, negotiates TLS, logs in and reads the capabilities. It
// returns an *Error: ErrAuth (permanent) when the credentials or token are
// refused, a temporary one for network failures.
func Dial(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Op: "dial", Err: fmt.Errorf("invalid mailbox configuration: %w", err)}
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	cl := &Client{cfg: cfg, log: log, changes: make(chan struct{}, 1)}
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if cfg.Dialer != nil {
		d = cfg.Dialer
	}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, wrap("dial", "", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	host, _, _ := net.SplitHostPort(cfg.Addr)
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConf = cfg.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	opts := &imapclient.Options{
		TLSConfig: tlsConf,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case cl.changes <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch cfg.TLS {
	case TLSImplicit:
		if tlsConf.NextProtos == nil {
			tlsConf.NextProtos = []string{"imap"}
		}
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, wrapDial(ctx, "tls", err)
		}
		cl.c = imapclient.New(tc, opts)
	case TLSStartTLS:
		c, err := imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, wrapDial(ctx, "starttls", err)
		}
		cl.c = c
	default:
		cl.c = imapclient.New(conn, opts)
	}
	cl.conn = conn
	if err := cl.c.WaitGreeting(); err != nil {
		cl.c.Close()
		return nil, wrapDial(ctx, "greeting", err)
	}
	if err := cl.login(ctx); err != nil {
		cl.c.Close()
		return nil, err
	}
	cl.caps = cl.c.Caps()
	if cl.caps == nil {
		cl.c.Close()
		return nil, wrapDial(ctx, "capability", errors.New("server sent no capabilities"))
	}
	if !stop() {
		cl.c.Close()
		return nil, wrapDial(ctx, "login", ctx.Err())
	}
	log.Debug("imap connected", "tls", cfg.TLS, "auth", cfg.Auth)
	return cl, nil
}

func wrapDial(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return wrap(op, "", err)
}

func (cl *Client) login(ctx context.Context) error {
	cfg := cl.cfg
	var err error
	switch cfg.Auth {
	case AuthLogin:
		err = cl.c.Authenticate(sasl.NewLoginClient(cfg.User, cfg.Password))
	case AuthXOAUTH2:
		tok, terr := cfg.TokenSource.Token()
		if terr != nil {
			var te *TokenError
			if !errors.As(terr, &te) {
				terr = &TokenError{Flow: "custom", Err: terr, temporary: true}
			}
			return wrap("token", "", terr)
		}
		xc := NewXOAUTH2Client(cfg.User, tok.AccessToken)
		err = cl.c.Authenticate(xc)
	default: // plain
		if cl.c.Caps().Has(imap.AuthCap(sasl.Plain)) {
			err = cl.c.Authenticate(sasl.NewPlainClient("", cfg.User, cfg.Password))
		} else {
			err = cl.c.Login(cfg.User, cfg.Password).Wait()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return wrapDial(ctx, "login", err)
		}
		e := wrap("login", "", err).(*Error)
		if !e.temporary {
			e.kind = ErrAuth
		}
		return e
	}
	return nil
}

// Caps reports whether the server announced capability c (e.g. "MOVE").
func (cl *Client) Caps(c string) bool { return cl.caps.Has(imap.Cap(c)) }

// Broken reports whether a failure left the connection unusable.
func (cl *Client) Broken() bool {
	if cl.broken.Load() {
		return true
	}
	select {
	case <-cl.c.Closed():
		return true
	default:
		return false
	}
}

// Close logs out (briefly) and closes the connection.
func (cl *Client) Close() error {
	if !cl.broken.Load() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = cl.c.Logout().Wait()
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	cl.broken.Store(true)
	if err := cl.c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return wrap("close", "", err)
	}
	return nil
}

// begin starts one operation: it takes the lock and arms a watchdog that
// closes the connection when ctx ends or CommandTimeout passes. end releases
// both and turns the error into an *Error, marking the client broken when the
// watchdog fired or the failure is temporary.
func (cl *Client) begin(ctx context.Context) (context.Context, func(op, mailbox string, err error) error) {
	cl.mu.Lock()
	octx, cancel := context.WithTimeout(ctx, cl.cfg.CommandTimeout)
	stop := context.AfterFunc(octx, func() {
		cl.broken.Store(true)
		cl.conn.Close()
	})
	return octx, func(op, mailbox string, err error) error {
		fired := !stop()
		cancel()
		defer cl.mu.Unlock()
		if err == nil && !fired {
			return nil
		}
		if fired {
			cause := ctx.Err()
			if cause == nil {
				cause = fmt.Errorf("no answer within %v: %w", cl.cfg.CommandTimeout, context.DeadlineExceeded)
			}
			if err != nil {
				err = fmt.Errorf("%w (%w)", cause, err)
			} else {
				err = cause
			}
		}
		return cl.fail(op, mailbox, err)
	}
}

// checkUsable refuses to work on a broken client.
func (cl *Client) checkUsable() error {
	if cl.Broken() {
		return ErrClosed
	}
	return nil
}

// Select opens mailbox read-write and reports its state.
func (cl *Client) Select(ctx context.Context, mailbox string) (Status, error) {
	_, end := cl.begin(ctx)
	st, err := cl.selectLocked(mailbox)
	return st, end("select", mailbox, err)
}

func (cl *Client) selectLocked(mailbox string) (Status, error) {
	if err := cl.checkUsable(); err != nil {
		return Status{}, err
	}
	data, err := cl.c.Select(mailbox, nil).Wait()
	if err != nil {
		cl.selected = ""
		return Status{}, err
	}
	st := Status{
		Mailbox:     mailbox,
		UIDValidity: data.UIDValidity,
		UIDNext:     data.UIDNext,
		Messages:    data.NumMessages,
		HasMove:     cl.caps.Has(imap.CapMove) || cl.caps.Has(imap.CapIMAP4rev2),
		HasUIDPlus:  cl.caps.Has(imap.CapUIDPlus) || cl.caps.Has(imap.CapIMAP4rev2),
		HasIdle:     cl.caps.Has(imap.CapIdle) || cl.caps.Has(imap.CapIMAP4rev2),
	}
	cl.selected, cl.status = mailbox, st
	return st, nil
}

// ensureSelected selects mailbox unless it already is.
func (cl *Client) ensureSelected(mailbox string) error {
	if cl.selected == mailbox {
		return cl.checkUsable()
	}
	_, err := cl.selectLocked(mailbox)
	return err
}

// EnsureFolders creates every configured folder that does not exist yet.
func (cl *Client) EnsureFolders(ctx context.Context) error {
	_, end := cl.begin(ctx)
	if err := cl.checkUsable(); err != nil {
		return end("list", "", err)
	}
	list, err := cl.c.List("", "*", nil).Collect()
	if err != nil {
		return end("list", "", err)
	}
	have := map[string]bool{}
	for _, l := range list {
		have[folderKey(l.Mailbox)] = true
	}
	for _, f := range cl.cfg.Folders.All() {
		if have[folderKey(f)] {
			continue
		}
		if err := cl.createLocked(f); err != nil {
			return end("create", f, err)
		}
		cl.log.Info("imap folder created", "mailbox", f)
	}
	return end("list", "", nil)
}

func (cl *Client) createLocked(name string) error {
	err := cl.c.Create(name, nil).Wait()
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return err
}

// FetchNew hands fn every message of the inbox above cur.LastUID, in UID
// order, and returns the cursor to store. Messages flagged \Deleted are
// skipped. When the inbox's UIDVALIDITY differs from cur's, it starts from
// the first message and sets ValidityChanged.
//
// Messages are listed with one UID SEARCH, their sizes read in batches of
// BatchSize, and their bodies downloaded with BODY.PEEK[] (the \Seen flag is
// left alone) in groups of at most BatchBytes. Over-size messages arrive with
// TooLarge set and their header only.
//
// fn runs while no IMAP command is in flight, so it may take its time, but it
// must not call methods of this Client. When fn returns an error, FetchNew
// stops and returns it (unwrapped) with the cursor of the last message fn
// accepted: the pipeline should return nil for a message it recorded as
// failed, and an error only when it cannot record anything (database down).
func (cl *Client) FetchNew(ctx context.Context, cur Cursor, fn func(Msg) error) (FetchResult, error) {
	octx, end := cl.begin(ctx)
	res := FetchResult{Next: cur}
	inbox := cl.cfg.Inbox
	st, err := cl.selectLocked(inbox)
	if err != nil {
		return res, end("select", inbox, err)
	}
	start := cur.LastUID
	if cur.UIDValidity != st.UIDValidity {
		if cur.UIDValidity != 0 {
			cl.log.Warn("imap uidvalidity changed: rescanning the whole mailbox", "mailbox", inbox,
				"old_uidvalidity", cur.UIDValidity, "new_uidvalidity", st.UIDValidity)
			res.ValidityChanged = true
		}
		start = 0
	}
	res.Next = Cursor{UIDValidity: st.UIDValidity, LastUID: start}
	if st.Messages == 0 || (st.UIDNext != 0 && st.UIDNext <= start+1) {
		return res, end("search", inbox, nil)
	}
	crit := &imap.SearchCriteria{
		UID:     []imap.UIDSet{{imap.UIDRange{Start: start + 1, Stop: 0}}},
		NotFlag: []imap.Flag{imap.FlagDeleted},
	}
	sd, err := cl.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return res, end("search", inbox, err)
	}
	uids := slices.DeleteFunc(sd.AllUIDs(), func(u UID) bool { return u <= start })
	n, last, ferr, cbErr := cl.deliverLocked(octx, st, uids, fn)
	res.Delivered = n
	if last > res.Next.LastUID {
		res.Next.LastUID = last
	}
	if cbErr != nil {
		_ = end("fetch", inbox, nil)
		return res, cbErr
	}
	return res, end("fetch", inbox, ferr)
}

// ScanSince hands fn every message of the inbox that arrived on or after the
// day of since (IMAP SEARCH SINCE ignores the time), \Deleted ones excepted,
// whatever its UID or \Seen flag: the periodic full scan that catches what a
// UID jump or a person marking mail read would hide. It returns how many
// messages fn accepted. fn's contract is FetchNew's.
func (cl *Client) ScanSince(ctx context.Context, since time.Time, fn func(Msg) error) (int, error) {
	octx, end := cl.begin(ctx)
	inbox := cl.cfg.Inbox
	st, err := cl.selectLocked(inbox)
	if err != nil {
		return 0, end("select", inbox, err)
	}
	if st.Messages == 0 {
		return 0, end("search", inbox, nil)
	}
	sd, err := cl.c.UIDSearch(&imap.SearchCriteria{Since: since, NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return 0, end("search", inbox, err)
	}
	n, _, ferr, cbErr := cl.deliverLocked(octx, st, sd.AllUIDs(), fn)
	if cbErr != nil {
		_ = end("fetch", inbox, nil)
		return n, cbErr
	}
	return n, end("fetch", inbox, ferr)
}

// sizeChunk caps how many UIDs one size-listing FETCH names.
const sizeChunk = 1000

// deliverLocked fetches uids (ascending) and calls fn for each, in UID
// order. One FETCH lists the sizes; then each group of at most BatchSize
// messages and BatchBytes bytes is downloaded with one FETCH (plus one for
// the headers of over-size messages, if any). It returns the count of
// accepted messages, the last accepted UID, an IMAP error, and fn's error,
// separately.
func (cl *Client) deliverLocked(ctx context.Context, st Status, uids []UID, fn func(Msg) error) (n int, last UID, imapErr, cbErr error) {
	slices.Sort(uids)
	uids = slices.Compact(uids)
	sizes := make(map[UID]int64, len(uids))
	for chunk := range slices.Chunk(uids, sizeChunk) {
		bufs, err := cl.c.Fetch(imap.UIDSetNum(chunk...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
		if err != nil {
			return 0, 0, err, nil
		}
		for _, b := range bufs {
			if b.UID != 0 {
				sizes[b.UID] = b.RFC822Size
			}
		}
	}
	for len(uids) > 0 {
		if err := ctx.Err(); err != nil {
			return n, last, err, nil
		}
		var small, large []UID
		var bytes int64
		for len(uids) > 0 && len(small)+len(large) < cl.cfg.BatchSize {
			u := uids[0]
			sz, ok := sizes[u]
			if ok && sz > cl.cfg.MaxMessageBytes {
				large = append(large, u)
			} else if ok {
				if len(small) > 0 && bytes+sz > cl.cfg.BatchBytes {
					break
				}
				bytes += sz
				small = append(small, u)
			} // else: gone since the search
			uids = uids[1:]
		}
		got := make(map[UID]Msg, len(small)+len(large))
		if len(small) > 0 {
			if err := cl.stream(st, small, &imap.FetchItemBodySection{Peek: true}, cl.cfg.MaxMessageBytes, got); err != nil {
				return n, last, err, nil
			}
		}
		if len(large) > 0 {
			sec := &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}
			if err := cl.stream(st, large, sec, maxHeaderBytes, got); err != nil {
				return n, last, err, nil
			}
		}
		order := append(small, large...)
		slices.Sort(order)
		for _, u := range order {
			m, ok := got[u]
			if !ok {
				continue // expunged meanwhile
			}
			if m.Size > cl.cfg.MaxMessageBytes {
				m.TooLarge = true
			}
			if m.TooLarge {
				cl.log.Info("imap message over the size limit: header only", "mailbox", st.Mailbox, "uid", u, "size", m.Size)
			}
			m.MessageID = messageID(m.Raw)
			if err := fn(m); err != nil {
				return n, last, nil, err
			}
			n++
			last = u
		}
	}
	return n, last, nil, nil
}

// stream runs one UID FETCH (UID RFC822.SIZE INTERNALDATE FLAGS sec) over
// uids, reading at most limit bytes of each literal (the rest is discarded),
// and adds the messages to got.
func (cl *Client) stream(st Status, uids []UID, sec *imap.FetchItemBodySection, limit int64, got map[UID]Msg) error {
	cmd := cl.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, RFC822Size: true, InternalDate: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{sec},
	})
	for {
		md := cmd.Next()
		if md == nil {
			break
		}
		m := Msg{Mailbox: st.Mailbox, UIDValidity: st.UIDValidity}
		var have bool
		for {
			item := md.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				m.UID = it.UID
			case imapclient.FetchItemDataRFC822Size:
				m.Size = it.Size
			case imapclient.FetchItemDataInternalDate:
				m.InternalDate = it.Time
			case imapclient.FetchItemDataFlags:
				m.Seen = slices.Contains(it.Flags, imap.FlagSeen)
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil {
					continue
				}
				// IMAP literals announce their length: read exactly that,
				// or limit bytes of an over-size one (the rest is skipped).
				size := it.Literal.Size()
				over := size > limit || size < 0
				if over {
					size = limit
				}
				buf := make([]byte, size)
				if _, err := io.ReadFull(it.Literal, buf); err != nil {
					_ = cmd.Close()
					return fmt.Errorf("read message body: %w", err)
				}
				m.Raw, have = buf, true
				if over { // the server under-reported the size
					cl.log.Warn("imap message larger than announced: keeping its header only", "mailbox", st.Mailbox, "uid", m.UID)
					m.Raw, m.TooLarge = headerOf(m.Raw[:limit]), true
				}
			}
		}
		if m.UID != 0 && have {
			got[m.UID] = m
		}
	}
	return cmd.Close()
}

// messageID returns the Message-ID header of raw, "" when there is none. It
// reads the header block only.
func messageID(raw []byte) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(headerOf(raw))))
	h, _ := r.ReadMIMEHeader() // lenient: use what was read
	id := strings.TrimSpace(h.Get("Message-Id"))
	if len(id) > 998 {
		return ""
	}
	return id
}

// headerOf returns the header block of raw (up to the blank line), or raw
// itself when there is none.
func headerOf(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[:i+4]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[:i+2]
	}
	return raw
}

// moveChunk caps how many UIDs one MOVE or COPY names.
const moveChunk = 500

// Move moves messages from the inbox to folder in as few commands as
// possible. See MoveFrom.
func (cl *Client) Move(ctx context.Context, uids []UID, folder string) error {
	return cl.MoveFrom(ctx, cl.cfg.Inbox, uids, folder)
}

// MoveFrom moves messages from one mailbox to another, 500 UIDs per command:
// with UID MOVE when the server has it (and DisableMove is off), else UID
// COPY, then STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of exactly those
// UIDs. Without UIDPLUS the originals stay, flagged \Deleted (FetchNew and
// ScanSince skip them): a plain EXPUNGE could remove other people's mail.
// UIDs that no longer exist are ignored, so moving twice is harmless. The
// destination is created when missing.
func (cl *Client) MoveFrom(ctx context.Context, from string, uids []UID, to string) error {
	if len(uids) == 0 {
		return nil
	}
	_, end := cl.begin(ctx)
	if err := cl.ensureSelected(from); err != nil {
		return end("select", from, err)
	}
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for chunk := range slices.Chunk(sorted, moveChunk) {
		set := imap.UIDSetNum(chunk...)
		err := cl.moveLocked(set, to)
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeTryCreate {
			if err = cl.createLocked(to); err == nil {
				cl.log.Info("imap folder created", "mailbox", to)
				err = cl.moveLocked(set, to)
			}
		}
		if err != nil {
			return end("move", to, err)
		}
	}
	return end("move", to, nil)
}

func (cl *Client) moveLocked(set imap.UIDSet, to string) error {
	st := cl.status
	if st.HasMove && !cl.cfg.DisableMove {
		cl.moveVia = "move"
		_, err := cl.c.Move(set, to).Wait()
		return err
	}
	cl.moveVia = "copy"
	if _, err := cl.c.Copy(set, to).Wait(); err != nil {
		return err
	}
	store := cl.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
	if err := store.Close(); err != nil {
		return err
	}
	if !st.HasUIDPlus {
		cl.log.Warn("imap server lacks MOVE and UIDPLUS: originals left flagged \\Deleted", "mailbox", st.Mailbox, "uids", set.String())
		return nil
	}
	return cl.c.UIDExpunge(set).Close()
}

// Append stores raw in folder (created when missing) flagged \Seen, e.g. a
// copy of a sent reply, and returns its UID (0 when the server has no
// UIDPLUS).
func (cl *Client) Append(ctx context.Context, folder string, raw []byte) (UID, error) {
	_, end := cl.begin(ctx)
	if err := cl.checkUsable(); err != nil {
		return 0, end("append", folder, err)
	}
	uid, err := cl.appendLocked(folder, raw)
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeTryCreate {
		if err = cl.createLocked(folder); err == nil {
			uid, err = cl.appendLocked(folder, raw)
		}
	}
	return uid, end("append", folder, err)
}

func (cl *Client) appendLocked(folder string, raw []byte) (UID, error) {
	cmd := cl.c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if _, err := cmd.Write(raw); err != nil {
		_ = cmd.Close()
		return 0, err
	}
	if err := cmd.Close(); err != nil {
		return 0, err
	}
	data, err := cmd.Wait()
	if err != nil {
		return 0, err
	}
	return data.UID, nil
}

// WaitForChange waits until the inbox announces new mail, max passes or ctx
// ends, and reports whether new mail was announced. It uses IDLE when the
// server has it; otherwise it sleeps and then sends one NOOP. A ctx that ends
// is not an error (it returns false, nil); a dropped connection is.
func (cl *Client) WaitForChange(ctx context.Context, max time.Duration) (bool, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	inbox := cl.cfg.Inbox
	if err := cl.ensureSelected(inbox); err != nil {
		return false, cl.fail("select", inbox, err)
	}
	select {
	case <-cl.changes:
		return true, nil
	default:
	}
	timer := time.NewTimer(max)
	defer timer.Stop()
	if !cl.status.HasIdle {
		select {
		case <-ctx.Done():
			return false, nil
		case <-timer.C:
		}
		if err := cl.c.Noop().Wait(); err != nil {
			return false, cl.fail("noop", inbox, err)
		}
		select {
		case <-cl.changes:
			return true, nil
		default:
			return false, nil
		}
	}
	idle, err := cl.c.Idle()
	if err != nil {
		return false, cl.fail("idle", inbox, err)
	}
	changed := false
	select {
	case <-cl.changes:
		changed = true
	case <-timer.C:
	case <-ctx.Done():
	case <-cl.c.Closed():
	}
	// Stop IDLE, bounded: a dead server must not hang us.
	done := make(chan error, 1)
	go func() {
		if err := idle.Close(); err != nil {
			done <- err
			return
		}
		done <- idle.Wait()
	}()
	select {
	case err = <-done:
	case <-time.After(cl.cfg.DialTimeout):
		cl.broken.Store(true)
		cl.conn.Close()
		err = <-done
		if err == nil {
			err = ErrClosed
		}
	}
	if err != nil {
		return changed, cl.fail("idle", inbox, err)
	}
	select {
	case <-cl.changes:
		changed = true
	default:
	}
	return changed, nil
}

// fail wraps err and marks the client broken when it is temporary. An error
// on a connection that is gone is ErrClosed, whatever go-imap called it.
func (cl *Client) fail(op, mailbox string, err error) error {
	e := wrap(op, mailbox, err)
	var me *Error
	if errors.As(e, &me) && !errors.Is(err, context.Canceled) {
		select {
		case <-cl.c.Closed():
			me.kind, me.temporary = ErrClosed, true
		default:
		}
	}
	if retry.Temporary(e) {
		cl.broken.Store(true)
	}
	return e
}
