-- Applied by stack/postgres/part.sh to the "ferretdb" database in single-user
-- mode (before the server starts) whenever this file changes. Idempotent.
-- Statements are separated by blank lines (postgres --single -j); keep blank
-- lines out of statements.
--
-- (The same is done for the top-level "terms" array of record documents; see below.)
--
-- Why: FerretDB 1.24's PostgreSQL backend pushes an {_id: x} filter (and any
-- equality on a top-level field) down as  _jsonb->'_id' @> '"x"'  but indexes
-- _id with a btree on (_jsonb->'_id'), which cannot serve @>. So every find,
-- findOne, update, upsert and delete by _id was a sequential scan (about 20 ms
-- at 50k documents, linear). A GIN index on the same expression serves @>
-- (bitmap index scan, under 1 ms at 50k). FerretDB never sees these indexes:
-- it lists indexes from its own metadata table, names its indexes *_idx, and
-- dropping a collection drops its table with them.
--
-- The event trigger adds the index to every table FerretDB creates (it runs
-- inside FerretDB's CREATE TABLE transaction); the DO block covers tables
-- created before this file was applied.
CREATE OR REPLACE FUNCTION public.stack_ferretdb_id_gin_name(rel name) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
  SELECT left(rel, 40) || '_' || substr(md5(rel), 1, 8) || '_id_gin'
$f$;

CREATE OR REPLACE FUNCTION public.stack_ferretdb_id_gin_create(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  rel name;
  nsp name;
BEGIN
  SELECT c.relname, n.nspname INTO rel, nsp
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl;
  -- FerretDB collection tables: a jsonb column _jsonb; skip its metadata tables.
  IF rel LIKE '\_ferretdb\_%' OR NOT EXISTS (
      SELECT 1 FROM pg_attribute a
      WHERE a.attrelid = tbl AND a.attname = '_jsonb' AND a.atttypid = 'jsonb'::regtype AND NOT a.attisdropped) THEN
    RETURN;
  END IF;
  -- fastupdate off: with GIN's pending list, documents inserted since the last
  -- vacuum are found by scanning that list, which made lookups linear again
  -- after bulk inserts.
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L)) WITH (fastupdate = off)',
                 public.stack_ferretdb_id_gin_name(rel), nsp, rel, '_id');
  EXECUTE format('ALTER INDEX %I.%I SET (fastupdate = off)', nsp, public.stack_ferretdb_id_gin_name(rel));
  PERFORM gin_clean_pending_list(format('%I.%I', nsp, public.stack_ferretdb_id_gin_name(rel))::regclass);
  -- The hub's search terms (libs/store/records.ts): {terms: "<term>"} is pushed down
  -- as _jsonb->'terms' @> '"<term>"', which this serves. Null for other collections.
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L)) WITH (fastupdate = off)',
                 left(public.stack_ferretdb_id_gin_name(rel), 56) || '_terms', nsp, rel, 'terms');
END
$f$;

CREATE OR REPLACE FUNCTION public.stack_ferretdb_on_create_table() RETURNS event_trigger
LANGUAGE plpgsql AS $f$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
           WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    PERFORM public.stack_ferretdb_id_gin_create(r.objid::regclass);
  END LOOP;
END
$f$;

DROP EVENT TRIGGER IF EXISTS stack_ferretdb_id_gin;

CREATE EVENT TRIGGER stack_ferretdb_id_gin ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION public.stack_ferretdb_on_create_table();

DO $d$
DECLARE
  t regclass;
BEGIN
  FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
             AND n.nspname NOT LIKE 'pg\_%' LOOP
    PERFORM public.stack_ferretdb_id_gin_create(t);
  END LOOP;
END
$d$;

-- The session setting an earlier version of this file made (sequential scans off)
-- is withdrawn: it sped up short workflows but slowed longer ones (see part.sh for
-- the statistics settings that replaced it).
DO $d$
BEGIN
  EXECUTE format('ALTER DATABASE %I RESET enable_seqscan', current_database());
END
$d$;
