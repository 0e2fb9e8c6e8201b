-- 006_auth: sign-in limits shared by every replica, OpenID Connect
-- sign-in, and a tamper-evident audit trail.
set local search_path to {{.schema}};

-- Sign-in attempt counters (see store.BeginSignin). key is a keyed hash of
-- what is counted: a client address, an account, or an account from one
-- address; account is the keyed hash of the account's email, so an admin
-- unlock can clear every row of an account. Attempts are counted before the
-- password is checked. Nothing here is readable without OPTOUT_INDEX_KEY.
create table signin_counters (
	key          bytea primary key,
	kind         text not null check (kind in ('address', 'account', 'pair')),
	account      bytea,
	window_start timestamptz not null,
	attempts     integer not null default 0,
	last_at      timestamptz,
	locked_until timestamptz,  -- pair rows: hard lock of one account from one address
	known_until  timestamptz   -- pair rows: this address signed in to this account
);
create index signin_counters_account on signin_counters (account) where account is not null;
create index signin_counters_window on signin_counters (window_start);

-- OpenID Connect: the token's stable subject, recorded at first sign-in.
alter table staff add column oidc_subject text unique;

-- OpenID Connect sign-ins in flight: one row per authorization request,
-- deleted when the provider sends the browser back (so a state works once).
-- Only the SHA-256 of the state is stored; the PKCE verifier is sealed.
create table signin_pending (
	state_hash  bytea primary key,
	presession  bytea not null,  -- SHA-256 of the browser's pre-session cookie
	nonce       text not null,
	verifier    bytea not null,  -- sealed
	next        text not null default '/queue',
	created_at  timestamptz not null default now()
);
create index signin_pending_created on signin_pending (created_at);

-- The audit chain: every row carries the SHA-256 of the previous row's hash
-- and its own canonical content (audit_canonical), in chain_seq order.
-- audit_chain holds the head; the insert trigger takes its row lock, so
-- concurrent writers join the chain one at a time. `optoutd audit verify`
-- recomputes the chain in Go and reports the first row that does not match.
alter table audit add column chain_seq bigint unique, add column prev_hash bytea, add column hash bytea;

create table audit_chain (
	only_row boolean primary key default true check (only_row),
	seq      bigint not null,
	hash     bytea not null
);
insert into audit_chain (seq, hash) values (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The canonical content of an audit row: each field on its own line, text
-- fields prefixed with their length in bytes, the time in UTC to the
-- microsecond. store.auditCanonical writes the same bytes.
create function audit_canonical(seq bigint, id bigint, at timestamptz, actor text, action text,
	object_type text, object_id bigint, reference text, detail text) returns bytea
	language sql immutable as $$
	select convert_to(seq::text || E'\n' || id::text || E'\n' ||
		to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n' ||
		octet_length(actor) || ':' || actor || E'\n' ||
		octet_length(action) || ':' || action || E'\n' ||
		octet_length(object_type) || ':' || object_type || E'\n' ||
		coalesce(object_id::text, '') || E'\n' ||
		octet_length(reference) || ':' || reference || E'\n' ||
		octet_length(detail) || ':' || detail, 'UTF8')
$$;

-- Chain the rows written before this migration, in id order.
alter table audit disable trigger audit_append_only;
do $$
declare
	r    record;
	n    bigint := 0;
	prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
	h    bytea;
begin
	for r in select * from audit order by id loop
		n := n + 1;
		h := sha256(prev || audit_canonical(n, r.id, r.at, r.actor, r.action, r.object_type, r.object_id, r.reference, r.detail));
		update audit set chain_seq = n, prev_hash = prev, hash = h where id = r.id;
		prev := h;
	end loop;
	update audit_chain set seq = n, hash = prev;
end $$;
alter table audit enable trigger audit_append_only;

-- The link is made by the table owner's function (security definer), so the
-- runtime role needs no right on audit_chain at all.
create function audit_chain_link() returns trigger language plpgsql security definer
	set search_path = {{.schema}} as $$
declare
	head audit_chain%rowtype;
begin
	select * into head from audit_chain for update;
	new.chain_seq := head.seq + 1;
	new.prev_hash := head.hash;
	new.hash := sha256(head.hash || audit_canonical(new.chain_seq, new.id, new.at, new.actor, new.action,
		new.object_type, new.object_id, new.reference, new.detail));
	update audit_chain set seq = new.chain_seq, hash = new.hash;
	return new;
end $$;
create trigger audit_chain_link before insert on audit for each row execute function audit_chain_link();

create trigger audit_chain_append_only before delete or truncate on audit_chain
	for each statement execute function reject_change();
create index audit_actor on audit (actor, id);
create index audit_action on audit (action, id);
