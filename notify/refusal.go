package notify

import (
	"errors"
	"strings"

	"github.com/ncl-icb/optout-intake/internal/retry"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Refusal reads a failed send as the provider (Exchange Online, NHSmail)
// means it: about the sender, the whole mailbox (Pause is the reason every
// sender stops: nothing is failed, no triage item is raised, and one email
// probes again after a backoff), or about this one email (Pause is empty:
// the email is retried or failed by retry.Temporary's rule, as the
// SendError says). docs/notify.md has the table. Errors that are not a
// *SendError follow retry.Temporary and are about the email.
//
// About the sender:
//   - 5.2.0 (554 5.2.0 SubmissionQuotaExceeded) and 5.2.2 at MAIL or DATA
//     (the mailbox is full): PauseQuota.
//   - 5.2.251 to 5.2.255 (continuous error throttling), 4.4.2 and 4.3.2
//     (432: too many connections), 421 with either: PauseThrottled.
//   - any failure to connect, secure, greet or log in (refused, timed out,
//     TLS, AUTH), any other 421, any reply without a code after the
//     connection was up, and any 4xx to MAIL or DATA: PauseOutage.
//   - any 5xx to MAIL (our own address refused): PauseOutage, so staff
//     see the pause rather than every reply failing.
//
// About the email: 5xx and 4xx to RCPT (5.1.x unknown recipient, 4.2.x
// mailbox busy), 5xx to DATA (5.3.4 or 552: too large; 5.7.x content
// refused), other than the codes above.
func Refusal(err error) (pause vocab.PauseReason) {
	var se *SendError
	if !errors.As(err, &se) {
		return ""
	}
	switch {
	case se.Enhanced == "5.2.0" || se.Enhanced == "5.2.2" && se.Step != "rcpt":
		return vocab.PauseQuota
	case strings.HasPrefix(se.Enhanced, "5.2.25"), se.Enhanced == "4.4.2", se.Enhanced == "4.3.2", se.Code == 432:
		return vocab.PauseThrottled
	case se.Setup, se.Code == 421:
		return vocab.PauseOutage
	case se.Code == 0 && retry.Temporary(se):
		return vocab.PauseOutage
	case se.Step == "rcpt":
		return ""
	case se.Code/100 == 4, se.Step == "mail":
		return vocab.PauseOutage
	}
	return ""
}
