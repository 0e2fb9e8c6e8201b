package mailbox

import (
	"context"
	"time"
)

// IDLE (or NOOP without it): waiting for new mail.

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
