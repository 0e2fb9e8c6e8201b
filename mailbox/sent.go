package mailbox

import "context"

// SentFolder appends a copy of each reply sent to a folder (the mailbox's
// Sent Items), over a Session of its own. It implements notify.SentCopier.
//
// It must not share the poller's Session: a poll and IDLE hold that one for
// minutes at a time (Session.Do runs one operation at a time), and the
// outbox would stall behind them. With its own connection, a copy is
// appended while the poller is fetching or in IDLE.
type SentFolder struct {
	// Session is the connection the copies go over: NewSession with the
	// mailbox's Config, used for nothing else. Close it at shutdown.
	Session *Session
	// Folder is the folder's name (OPTOUT_FOLDER_SENT); it is created
	// when missing.
	Folder string
}

// CopySent appends raw to the folder, flagged \Seen, reconnecting on a
// temporary failure as Session.Do does.
func (f SentFolder) CopySent(ctx context.Context, raw []byte) error {
	return f.Session.Do(ctx, func(c *Client) error {
		_, err := c.Append(ctx, f.Folder, raw)
		return err
	})
}
