// Package intake is the pipeline that joins the parts of optout-intake into
// the service the leaflet describes: it polls the mailbox, reads each message,
// decides what it means, records everything it causes and queues the
// replies.
//
// It exists because it is the only place that knows the whole flow. The
// mailbox package knows IMAP, extract knows how to read a form, store knows
// how to keep the register consistent and notify knows how to write and send
// a reply; none of them knows that a first email gets instructions, that a
// reply with a form gets a receipt and an outcome, that automatic mail is
// never answered, or in which order things must happen so that a crash at
// any point neither loses a mail nor answers it twice. Those rules live
// here: Decide holds them as a pure, table-tested function, Processor carries
// out one message, Poller walks a mailbox, and Service runs it all on a
// schedule with the outbox worker and the retention purge.
//
// Decide returns a store.Plan: what the message causes, its parts tied to
// one another by pointer (a triage item to its submission). The Processor
// fills in what Decide cannot know (the ledger row, addresses, the composed
// emails, the kept attachments) and store.CompleteMessage commits the plan
// as it is. The values in a plan (reasons, reply kinds, folders, actions,
// states) are the vocab package's. A new triage reason or reply kind touches
// vocab, Decide, the reply's template and the page's words (see "Where to
// add things" in docs/pipeline.md).
//
// The package owns no data of its own: the ledger, conversations, register
// and outbox are the store's; the folders are the mailbox's. Logs carry the
// mailbox name, UIDs, ledger ids and reference codes, never personal data.
//
// See docs/pipeline.md for the flow and the exactly-once argument.
package intake
