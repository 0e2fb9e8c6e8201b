package message

import "strings"

// The reason codes MachineAddress gives, besides ReasonDaemon and
// ReasonNullReturnPath. They are AutoReason codes too.
const (
	ReasonListSender = "list-sender" // owner-*, *-request, *-admin, *-bounces, LISTSERV, majordomo...
	ReasonNoReply    = "no-reply"    // no-reply, noreply, donotreply, do-not-reply and their variants
)

// listServers are whole local parts of mailing-list software and bulk
// senders' bounce addresses (separators removed, lower case).
var listServers = map[string]bool{
	"listserv": true, "listproc": true, "majordomo": true, "mailman": true, "ezmlm": true,
	"lyris": true, "sympa": true, "smartlist": true, "bounce": true, "bounces": true,
}

// listSuffixes and listPrefixes mark the addresses mailing-list software
// sends from (RFC 3834 section 2; RFC 2142).
var (
	listSuffixes = []string{"-request", "-admin", "-bounces", "-bounce", "-owner"}
	listPrefixes = []string{"owner-", "bounce-", "bounces-"}
)

// MachineAddress reports whether addr, an addr-spec ("local@domain", or a
// bare local part such as "MAILER-DAEMON"), belongs to something that must
// never be answered (RFC 3834 section 2): the null address ("" or "<>"),
// a mail system (MAILER-DAEMON, postmaster, post_master), mailing-list
// software (owner-*, *-request, *-admin, *-bounces, LISTSERV, majordomo) or
// a notification sender (no-reply, noreply, donotreply, do-not-reply...).
// It returns the reason code (ReasonNullReturnPath, ReasonDaemon,
// ReasonListSender or ReasonNoReply), or "" for any other address.
//
// The extractor calls it on a message's senders, and the outbox calls it on
// every recipient before sending: one rule for both.
func MachineAddress(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ReasonNullReturnPath
	}
	local := addr
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		local = addr[:at]
	}
	local = strings.ToLower(strings.Trim(local, `"`))
	if local == "" {
		return ReasonNullReturnPath
	}
	// A sub-address ("bounces+123=example.org") says nothing about the box.
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	bare := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, local)
	switch bare {
	case "mailerdaemon", "maildaemon", "mailerdeamon", "postmaster", "mdaemon":
		return ReasonDaemon
	}
	if strings.Contains(bare, "noreply") || strings.Contains(bare, "donotreply") || strings.Contains(bare, "dontreply") {
		return ReasonNoReply
	}
	if listServers[bare] {
		return ReasonListSender
	}
	dashed := strings.ReplaceAll(local, "_", "-")
	for _, s := range listSuffixes {
		if strings.HasSuffix(dashed, s) && len(dashed) > len(s) {
			return ReasonListSender
		}
	}
	for _, p := range listPrefixes {
		if strings.HasPrefix(dashed, p) && len(dashed) > len(p) {
			return ReasonListSender
		}
	}
	return ""
}
