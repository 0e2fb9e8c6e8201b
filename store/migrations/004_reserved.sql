-- 004_reserved: a placeholder so this branch's 006 applies (tern refuses gaps).
-- Migrations 004 is taken by another branch: the lead deletes this file at merge.
select 1;
