package mailbox

import (
	"context"
	"errors"

	"github.com/emersion/go-imap/v2"
)

// SELECT, LIST and CREATE: the mailbox a command works on and the folders
// handled mail goes to.

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
