-- 002_hot_ledger: cheaper writes on the hot path (docs/store.md, "Numbers").
set local search_path to {{.schema}};

-- The ledger's state changes (new -> processing -> done) can be HOT updates
-- (no new index entries, less WAL) only when no index depends on the state
-- column. The retry index therefore keys on next_attempt_at alone: only
-- FailMessage sets it (a failed row always has one) and completing a row
-- clears it, so the index still holds only rows that failed at some point.
drop index ledger_failed;
create index ledger_retry on ledger (next_attempt_at, id) where next_attempt_at is not null;

-- Leave room on each heap page for the row's later versions, so HOT updates
-- find space on the same page (applies to pages written from now on).
alter table ledger set (fillfactor = 80);
alter table conversations set (fillfactor = 80);

-- The exactly-once gate of CompleteMessage, so the whole outcome can be sent
-- in one pipelined round trip: it locks the ledger row and raises an error
-- (which makes the server skip everything after it in the transaction, the
-- COMMIT included) when the row is unknown (OPTNF) or already done (OPTAD).
create function ledger_gate(lid bigint) returns void language plpgsql as $$
declare
	st text;
begin
	select state into st from {{.schema}}.ledger where id = lid for update;
	if not found then
		raise exception 'ledger row % not found', lid using errcode = 'OPTNF';
	end if;
	if st = 'done' then
		raise exception 'ledger row % already done', lid using errcode = 'OPTAD';
	end if;
end $$;
