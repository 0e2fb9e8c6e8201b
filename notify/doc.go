// Package notify composes and sends the service's replies to residents.
//
// It owns the reply templates (plain text, embedded, overridable from a
// directory), the composition of each reply as a complete RFC 5322 message
// (Composer.Compose, done when the reply is queued so every retry sends the
// same bytes), the signed Message-ID token that lets the pipeline trust a
// resident's In-Reply-To/References without a database look-up (Signer), the
// SMTP client that submits messages (Sender), and the worker that drains the
// outbox (Worker). It stores nothing itself: the outbox rows belong to the
// store, reached through the Outbox interface.
//
// Nothing in this package logs or returns personal data: log lines and error
// strings carry outbox ids, reference codes and SMTP status codes only.
package notify
