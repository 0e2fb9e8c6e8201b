-- 005_send_control: the pace, the pause and the daily budget of sending,
-- for the mailbox as a whole (every replica and restart shares this one
-- row; a sender claims each email under its lock, see store/sendcontrol.go).
--
-- tokens and refilled_at are a token bucket of OPTOUT_SMTP_RATE; paused_until
-- and pause_reason hold a pause after a refusal about the sender (an
-- outage, throttling, the provider's quota); pause_failures counts the
-- refusals in a row, for the backoff. The daily budget is counted from
-- outbox.sent_at, so it needs no state here: sent_at gets an index.
set local search_path to {{.schema}};

create table send_control (
	id             int primary key default 1 check (id = 1),
	tokens         double precision not null default 0,
	refilled_at    timestamptz not null default '2000-01-01 00:00:00+00',
	paused_until   timestamptz,
	pause_reason   text not null default '',
	pause_failures int not null default 0
);
insert into send_control (id) values (1);

create index outbox_sent_at on outbox (sent_at) where sent_at is not null;

-- A reply is never sent before an earlier one of the same conversation that
-- is still waiting (the claim checks this index).
create index outbox_conversation_waiting on outbox (conversation_id, id) where state in ('pending', 'sending');
