-- 004_message_header: what later steps need from a message's header, read
-- once when the message is fetched and recorded with its ledger row, so the
-- processor, a retry and the triage page read these columns instead of
-- parsing the raw message again (the raw copy is parsed only to show it).
--
-- Rows recorded before this migration have them null: readers fall back to
-- the raw copy. The purge clears the sealed ones with the raw message.
set local search_path to {{.schema}};

alter table ledger
	add column sender      bytea,       -- sealed From address (ledger.sender)
	add column sender_hash bytea,       -- blind index of the From address (as conversations.address_hash)
	add column subject     bytea,       -- sealed decoded Subject (ledger.subject)
	add column threading   bytea,       -- sealed Message-ID, In-Reply-To and References, one per line (ledger.threading)
	add column sent_at     timestamptz; -- the Date header, null when missing or unreadable
