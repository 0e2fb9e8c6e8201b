-- 010_ledger_conversation (issue 9 item 2): the conversation each message
-- read belongs to, so an item's page shows the whole thread: replies
-- without a form asked again automatically, automatic replies, thanks
-- after completion and answers to staff replies too, not only the
-- messages that opened the conversation, carried its forms or raised its
-- items. CompleteMessage sets it in the outcome's transaction (the
-- conversation the plan opened or was tied to); NULL for a message of no
-- conversation, and for one not done yet.
set local search_path to {{.schema}};

alter table ledger add column conversation_id bigint references conversations (id);

-- Messages done before this migration: the conversation they opened, else
-- the one of their forms, else of their items, else of the item they
-- answered (a staff reply's answer). The first of each kind by id.
update ledger l set conversation_id = m.conversation_id
from (
	select ledger_id, (array_agg(conversation_id order by rank, conversation_id))[1] as conversation_id
	from (
		select ledger_id, id as conversation_id, 1 as rank from conversations where ledger_id is not null
		union all
		select ledger_id, conversation_id, 2 from submissions where ledger_id is not null and conversation_id is not null
		union all
		select ledger_id, conversation_id, 3 from triage where ledger_id is not null and conversation_id is not null
		union all
		select answer_ledger_id, conversation_id, 4 from triage where answer_ledger_id is not null and conversation_id is not null
	) found
	group by ledger_id
) m
where l.id = m.ledger_id;

-- The thread of a conversation, oldest first (store.ConversationThread).
-- Setting the column when a message is done makes that one update of a
-- message in a conversation a non-HOT update (docs/store.md, "Numbers");
-- the state changes before it stay HOT.
create index ledger_conversation on ledger (conversation_id, received_at, id) where conversation_id is not null;
