package mailbox

import (
	"context"
	"errors"

	"github.com/emersion/go-imap/v2"
)

// APPEND: a copy of a sent reply into a folder.

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
