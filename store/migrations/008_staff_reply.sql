-- 007_staff_reply (issue slot 010; renumber at merge) (issue 14 item 3, issue 9 item 4): staff write back from
-- the item page. A staff reply is an outbox row like any other (sealed,
-- threaded, kind staff_reply); the item then waits for the resident.
set local search_path to {{.schema}};

-- While set, the item waits for the resident's answer to a staff reply: the
-- queue leaves it out until the resident answers (the intake clears it and
-- points answer_ledger_id at the answer) or OPTOUT_REPLY_WAIT_DAYS pass.
alter table triage add column waiting_since timestamptz;
alter table triage add column answer_ledger_id bigint references ledger (id);
create index triage_waiting on triage (conversation_id) where state = 'open' and waiting_since is not null;

-- Snippets: standard passages admins keep for staff replies (no personal
-- data: they are the same for every resident). Staff insert one into a
-- reply on the item page and edit it there.
create table reply_snippets (
	id         bigint generated always as identity primary key,
	title      text not null check (length(title) between 1 and 100),
	body       text not null check (length(body) between 1 and 5000),
	updated_by bigint not null references staff (id),
	updated_at timestamptz not null default now()
);
