-- 003_outbox_content: the sealed subject and body of each email move to a
-- table of their own, written once and never updated.
--
-- An outbox row changes state twice per email (claimed, then sent) and
-- PostgreSQL writes a whole new row version each time: with the body inline
-- (1-2 KB sealed, under the TOAST threshold) that was most of the outbox's
-- write-ahead log. The outbox row is now small; the content is read by a
-- join on the same id.
set local search_path to {{.schema}};

create table outbox_content (
	id      bigint primary key references outbox (id), -- the outbox row's id
	subject bytea not null,                            -- sealed
	body    bytea not null                             -- sealed
);
insert into outbox_content (id, subject, body) select id, subject, body from outbox;
alter table outbox drop column subject, drop column body;

-- Sealed values are ciphertext, which never compresses: large ones go out
-- of line without PostgreSQL first trying (and failing) to compress them.
alter table outbox_content alter column body set storage external;
alter table ledger alter column raw set storage external;
alter table attachments alter column data set storage external;
