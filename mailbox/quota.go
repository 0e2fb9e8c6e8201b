package mailbox

import (
	"context"

	"github.com/emersion/go-imap/v2"
)

// Quota is the mailbox's storage quota as the server reports it (RFC 9208
// QUOTA, resource STORAGE), in bytes.
type Quota struct {
	Used, Limit int64
}

// Quota reads the storage quota of the inbox's quota root (GETQUOTAROOT).
// ok is false when the server does not offer QUOTA or reports no storage
// limit. Exchange Online and Dovecot with its quota plugin offer it.
func (cl *Client) Quota(ctx context.Context) (q Quota, ok bool, err error) {
	if !cl.caps.Has(imap.CapQuota) {
		return Quota{}, false, nil
	}
	_, end := cl.begin(ctx)
	if err := cl.checkUsable(); err != nil {
		return Quota{}, false, end("getquotaroot", cl.cfg.Inbox, err)
	}
	data, err := cl.c.GetQuotaRoot(cl.cfg.Inbox).Wait()
	if err != nil {
		return Quota{}, false, end("getquotaroot", cl.cfg.Inbox, err)
	}
	for _, d := range data {
		if r, found := d.Resources[imap.QuotaResourceStorage]; found && r.Limit > 0 {
			// STORAGE is counted in units of 1024 octets.
			q, ok = Quota{Used: r.Usage * 1024, Limit: r.Limit * 1024}, true
			break
		}
	}
	return q, ok, end("getquotaroot", cl.cfg.Inbox, nil)
}
