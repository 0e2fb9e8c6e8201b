-- 005_triage_person (planned as 008: renumber at merge): what a triage item
-- raised for a resident's message needs beyond the default.
--
-- register_id is the person the item's conversation already recorded (its
-- accepted or duplicate form), so the page of an "asks to opt back in" item
-- shows their register state and staff can record the opt back in from it.
-- due_by was always set (received + one calendar month); items that need a
-- person now carry the date the law sets (intake, package enquiry), and the
-- partial index triage_open_due (006) serves the overdue gauge and the
-- queue's due-date order.
set local search_path to {{.schema}};

alter table triage add column register_id bigint references register (id);

-- The once-a-week acknowledgement after completion is decided from the
-- last one queued in the conversation (store.LastReplyAt): a small partial
-- index, so other outbox rows pay nothing.
create index outbox_after_completion on outbox (conversation_id, created_at) where kind = 'after_completion';
