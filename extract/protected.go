package extract

import (
	"regexp"
	"strings"

	"github.com/ncl-icb/optout-intake/extract/message"
)

// KindProtected is a message whose content is encrypted and cannot be
// opened by the service: its forms are empty and a note, beginning with one
// of the Protected* codes, says which protection was found. Staff open it
// where it can be read (Outlook, for Microsoft's encryption).
const KindProtected Kind = "protected"

// The codes of the protections a message or file can carry. They are
// stable: each begins the note that reports it, and Result.Protection holds
// the first one found.
const (
	// ProtectedRPMsg is Microsoft Purview Message Encryption or Information
	// Rights Management: the message travels as an encrypted message.rpmsg
	// attachment (application/x-microsoft-rpmsg-message, often with
	// Content-Class: rpmsg.message) inside a short wrapper.
	ProtectedRPMsg = "protected_rpmsg"
	// ProtectedPortal is the link-based wrapper of Microsoft's message
	// encryption: a message.html attachment or a "Read the message" link to
	// the Microsoft encryption portal, where the content is.
	ProtectedPortal = "protected_portal"
	// ProtectedSMIME is S/MIME encryption: application/pkcs7-mime with
	// enveloped-data or authEnveloped-data.
	ProtectedSMIME = "protected_smime"
	// ProtectedPGP is PGP/MIME (multipart/encrypted) or an inline PGP
	// message typed into the body.
	ProtectedPGP = "protected_pgp"
	// ProtectedZip is a zip archive whose files are encrypted (a password
	// set with zip -e, 7-Zip or Windows): they are not opened.
	ProtectedZip = "protected_zip"
)

// protectionNotes say, after the code, what was found and what staff do.
var protectionNotes = map[string]string{
	ProtectedRPMsg: "the message is protected with Microsoft Purview Message Encryption or rights management " +
		"(an encrypted message.rpmsg) and cannot be opened by the service: open it in Outlook",
	ProtectedPortal: "the message is a Microsoft encryption wrapper whose content is in the Microsoft encryption portal " +
		"and cannot be opened by the service: open it in Outlook",
	ProtectedSMIME: "the message is encrypted with S/MIME and cannot be opened by the service: " +
		"open it in a mail client that holds the mailbox's certificate, or ask the sender to send it without encryption",
	ProtectedPGP: "the message is encrypted with PGP and cannot be opened by the service: " +
		"ask the sender to send it without encryption",
	ProtectedZip: "the zip archive's files are encrypted (password-protected) and were not opened: " +
		"ask the sender for the files without a password",
}

// protectionNote is the note reporting protection code.
func protectionNote(code string) string {
	return code + ": " + protectionNotes[code]
}

// rpmsgType is the media type of the rights-protected message attachment.
const rpmsgType = "application/x-microsoft-rpmsg-message"

// portalURL matches a link to the Microsoft encryption portal as the
// wrapper's "Read the message" link and its message.html form write it
// (outlook.office365.com/Encryption/retrieve.ashx, .../store.ashx).
var portalURL = regexp.MustCompile(`(?i)https?://[a-z0-9.-]+/encryption/[a-z]+\.ashx`)

// wrapperPhrases are sentences of the wrappers Microsoft writes for a
// recipient that cannot decrypt, in the sender's own text (a reply quoting
// a wrapper below its text is not one).
var wrapperPhrases = []string{
	"has sent you a protected message",
	"sent you an encrypted message",
	"you've received an encrypted message",
	"you have received an encrypted message",
	"save and open the attachment (message.html)",
	"open the message.html file",
}

// maxWrapperText bounds the own text of a message searched for a
// wrapper's phrases: a wrapper is short.
const maxWrapperText = 16 << 10

// protection returns the code of the protection msg carries, or "" when
// its content is not encrypted. own is the text its sender wrote (ownText
// of the body).
func protection(msg *message.Message, own string) string {
	if strings.EqualFold(strings.TrimSpace(msg.Header.Get("Content-Class")), "rpmsg.message") {
		return ProtectedRPMsg
	}
	portal := false
	for _, a := range msg.Attachments {
		name := strings.ToLower(a.Name)
		switch {
		case a.ContentType == rpmsgType || strings.HasSuffix(name, ".rpmsg"):
			return ProtectedRPMsg
		case name == "message.html" && portalURL.Match(prefix(a.Data, 1<<20)):
			portal = true
		}
	}
	switch msg.Encrypted {
	case message.EncryptedSMIME:
		return ProtectedSMIME
	case message.EncryptedPGP:
		return ProtectedPGP
	}
	if portal {
		return ProtectedPortal
	}
	if len(own) > maxWrapperText {
		own = own[:maxWrapperText]
	}
	if strings.Contains(own, "-----BEGIN PGP MESSAGE-----") {
		return ProtectedPGP
	}
	if portalURL.MatchString(own) {
		return ProtectedPortal
	}
	lower := strings.ToLower(strings.ReplaceAll(own, "\u2019", "'"))
	for _, p := range wrapperPhrases {
		if strings.Contains(lower, p) {
			return ProtectedPortal
		}
	}
	return ""
}
