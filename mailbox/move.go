package mailbox

import (
	"context"
	"errors"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// UID MOVE, or UID COPY + STORE \Deleted + UID EXPUNGE without MOVE.

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
