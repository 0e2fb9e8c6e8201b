package extract

import "github.com/ncl-icb/optout-intake/enquiry"

// ownText returns the part of a reply's body its sender wrote (see
// enquiry.StripQuoted), so the labels of a message we sent, quoted back, are
// not read as a form.
func ownText(body string) string { return enquiry.StripQuoted(body) }
