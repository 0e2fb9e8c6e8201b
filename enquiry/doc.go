// Package enquiry reads what a resident wrote in an email without a form and
// says what it asks for, so that every question, complaint and plea for
// another way reaches a person (issue 14) while a plain "please opt me out"
// still gets the secure-email instructions at once.
//
// The mailbox is not only for step 2 of the leaflet ("email us and ask to be
// contacted"): residents write to it with questions, complaints, requests
// made for a parent who cannot use email, subject access requests, requests
// to opt back in, and chases for a form sent weeks ago. A wrongly routed plain
// request costs staff a minute; a missed complaint costs a resident their
// rights. So the rules here are one-sided: a message is a plain request only
// when it is positively recognised as one (short, and every sentence either
// asks to opt out, to be contacted or for the form, or is a greeting, thanks
// or a detail about the sender); anything else is at least a question.
//
// It owns:
//   - OwnWords: the resident's own words, with quoted replies, signatures,
//     "Sent from my iPhone", confidentiality footers and pasted leaflet text
//     left out (StripQuoted is the quoted-reply part, shared with extract);
//   - the phrase tables (phrases.go), one per intent (a vocab.Reason:
//     the triage reason it raises), and Read, which applies them to the
//     subject and own words and returns a Result;
//   - the deadlines the law sets for each intent (DueBy), on the England and
//     Wales working-day calendar (bank holidays 2025–2028 in holidays.go);
//   - a copy of the leaflet (leaflet.md, embedded) whose sentences are
//     recognised when pasted into a message.
//
// It stores nothing and logs nothing: the text it reads is personal data and
// never leaves it except as the Result's codes. Every function is pure and
// safe for concurrent use.
package enquiry
