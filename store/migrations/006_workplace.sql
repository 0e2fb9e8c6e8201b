-- 004_workplace (issue 9's slot 010; renumber at merge): what the triage
-- workplace pages need. The queue pages through every open item sorted by
-- answer-by date or received date and filters by assignee; the outgoing
-- mail page lists emails that are waiting, failed or undeliverable; staff
-- can cancel an email, which needs a state of its own.
set local search_path to {{.schema}};

-- The queue's default order (oldest due first) and its filters.
create index triage_open_due on triage (due_by, id) where state = 'open';
create index triage_assigned on triage (assigned_to, due_by) where assigned_to is not null and state = 'open';
create index triage_conversation on triage (conversation_id) where conversation_id is not null;
-- The dashboard counts items by week of creation and of answer date.
create index triage_created on triage (created_at);

-- The outgoing mail page: emails that need a person's attention.
create index outbox_attention on outbox (id) where state in ('failed', 'undeliverable');

-- Cancelled: staff decided the email must not be sent (it never will be).
alter table outbox drop constraint outbox_state_check;
alter table outbox add constraint outbox_state_check
	check (state in ('pending', 'sending', 'sent', 'failed', 'undeliverable', 'cancelled'));

-- Why a closed item was closed: the reason codes staff chose (never
-- personal values) and, for a bulk close, the staff's words (sealed).
alter table triage add column close_reason text not null default '';
alter table triage add column close_note bytea;

-- Internal notes staff keep on an item: never emailed, kept in order,
-- sealed (staff may quote the resident). Append-only like the audit.
create table triage_notes (
	id         bigint generated always as identity primary key,
	triage_id  bigint not null references triage (id),
	staff_id   bigint not null references staff (id),
	at         timestamptz not null default now(),
	body       bytea not null               -- sealed
);
create index triage_notes_item on triage_notes (triage_id, id);
create trigger triage_notes_append_only before update or delete on triage_notes
	for each row execute function reject_change();
