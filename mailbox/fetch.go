package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// UID SEARCH and UID FETCH: new messages above a cursor, and the periodic
// scan by date.

// maxHeaderBytes caps the header of an over-size message.
const maxHeaderBytes = 256 << 10

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
	Answered     bool      // the \Answered flag was set (someone replied by hand)
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
				m.Answered = slices.Contains(it.Flags, imap.FlagAnswered)
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
