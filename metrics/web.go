package metrics

// SignInResult is how a sign-in attempt ended: the label of
// optout_web_signins_total.
type SignInResult string

// The results of a sign-in attempt.
const (
	SignInOK             SignInResult = "ok"              // signed in
	SignInBadCredentials SignInResult = "bad_credentials" // wrong password, unknown or disabled account, refused identity
	SignInRateLimited    SignInResult = "rate_limited"    // too many attempts, or every hash slot busy
	SignInBadRequest     SignInResult = "bad_request"     // a malformed or forged form
)

// SignInResults lists every SignInResult; the label set is built from it.
func SignInResults() []SignInResult {
	return []SignInResult{SignInOK, SignInBadCredentials, SignInRateLimited, SignInBadRequest}
}

// WebAction is a staff action on the triage page that succeeded: the label
// of optout_web_actions_total. A new action is added here and to
// WebActions, or it is counted as "other".
type WebAction string

// The staff actions counted.
const (
	ActionAccept          WebAction = "accept"
	ActionReject          WebAction = "reject"
	ActionClose           WebAction = "close"
	ActionAssign          WebAction = "assign"
	ActionCheck           WebAction = "check"
	ActionOptIn           WebAction = "opt_in"
	ActionOptOut          WebAction = "opt_out"
	ActionNote            WebAction = "note"
	ActionBulkClose       WebAction = "bulk_close"
	ActionReply           WebAction = "reply"
	ActionAnsweredOffline WebAction = "answered_offline"
	ActionItemResend      WebAction = "item_resend"
	ActionItemRedirect    WebAction = "item_redirect"
	ActionItemBounceClose WebAction = "item_bounce_close"
	ActionDownload        WebAction = "download"
	ActionSenderAttach    WebAction = "sender_attach"
	ActionSenderNew       WebAction = "sender_new"
	ActionSnippet         WebAction = "snippet"
	ActionSendHeld        WebAction = "send_held"
	ActionUpload          WebAction = "upload"
	ActionOutboxRetry     WebAction = "outbox_retry"
	ActionOutboxCancel    WebAction = "outbox_cancel"
	ActionOutboxAddress   WebAction = "outbox_address"
	ActionStaffAdd        WebAction = "staff_add"
	ActionStaffRole       WebAction = "staff_role"
	ActionStaffDisable    WebAction = "staff_disable"
	ActionStaffEnable     WebAction = "staff_enable"
	ActionStaffPassword   WebAction = "staff_password"
	ActionStaffUnlock     WebAction = "staff_unlock"
)

// WebActions lists every WebAction; the label set is built from it.
func WebActions() []WebAction {
	return []WebAction{ActionAccept, ActionReject, ActionClose, ActionAssign, ActionCheck, ActionOptIn, ActionOptOut,
		ActionNote, ActionBulkClose, ActionReply, ActionAnsweredOffline, ActionItemResend, ActionItemRedirect,
		ActionItemBounceClose, ActionDownload, ActionSenderAttach, ActionSenderNew, ActionSnippet, ActionSendHeld,
		ActionUpload, ActionOutboxRetry, ActionOutboxCancel, ActionOutboxAddress, ActionStaffAdd, ActionStaffRole,
		ActionStaffDisable, ActionStaffEnable, ActionStaffPassword, ActionStaffUnlock}
}
