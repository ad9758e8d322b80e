-- The operator's search box (GET /contacts?q=). Each contact's searchable forms are kept in
-- three tables beside it, so that every kind of match is a btree range read in the order the
-- answer is listed in and stops after one page, also for a prefix shared by a tenth of a
-- million contacts:
--   contact_search_names   one row per word of the name, folded (lower case, no accents);
--   contact_search_emails  one row per email, folded;
--   contact_search_phones  one row per contact with phones: the digits of each, space-separated
--                          (a digit fragment anywhere in a number: trigram index, pg_trgm).
-- Every row carries the contact's folded name (sort_name), the order within each kind.
-- Triggers keep the rows current with every write to contacts, whichever statement makes it.

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Writers wait until the existing contacts are indexed and the triggers are in place, so that
-- no contact written meanwhile is missed.
LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE;

-- Lower case without accents: 'Änn' and 'ann' fold alike, 'Weiß' to 'weiss', 'Łukasz' to
-- 'lukasz'. The dictionary is named, and a SQL-standard body binds it when the function is
-- created, so the search path of the caller does not matter.
CREATE FUNCTION contact_search_fold(value text) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN lower(unaccent('unaccent'::regdictionary, value));

-- The words of a name (or of a search), folded. Apostrophes join ("O'Brien" is one word,
-- "obrien"); any other punctuation or space separates ("Müller-Lüdenscheidt" is two). Words
-- therefore never hold a LIKE wildcard or a backslash.
CREATE FUNCTION contact_search_words(value text) RETURNS text[]
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN array_remove(
    regexp_split_to_array(translate(contact_search_fold(value), '''’ʼ', ''), '[[:space:][:punct:]]+'),
    ''
  );

-- The digits of each phone (stored in E.164), space-separated, so that a fragment never spans
-- two numbers; null without phones.
CREATE FUNCTION contact_search_digits(phones text[]) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN nullif(regexp_replace(array_to_string(phones, ' '), '[^0-9 ]', '', 'g'), '');

-- COLLATE "C": bytewise order, the same on every server and locale. A word sorts before its
-- longer completions ('ann' < 'anna'), so an exact word is listed before a mere prefix.
CREATE TABLE contact_search_names (
  contact_id  uuid NOT NULL,
  word        text COLLATE "C" NOT NULL,
  sort_name   text COLLATE "C" NOT NULL
);

CREATE TABLE contact_search_emails (
  contact_id  uuid NOT NULL,
  email       text COLLATE "C" NOT NULL,
  sort_name   text COLLATE "C" NOT NULL
);

CREATE TABLE contact_search_phones (
  contact_id  uuid NOT NULL,
  digits      text NOT NULL,
  sort_name   text COLLATE "C" NOT NULL
);

-- Rewrites the search rows of a contact that was inserted, changed or deleted. Row by row:
-- each statement here is planned once per connection, where a statement-level trigger's
-- query over its transition table is planned anew on every call.
CREATE FUNCTION contact_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  folded_words text[];
  folded_name text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM contact_search_names WHERE contact_id = OLD.id;
    DELETE FROM contact_search_emails WHERE contact_id = OLD.id;
    DELETE FROM contact_search_phones WHERE contact_id = OLD.id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    folded_words := contact_search_words(NEW.name);
    folded_name := array_to_string(folded_words, ' ');
    INSERT INTO contact_search_names (contact_id, word, sort_name)
    SELECT DISTINCT NEW.id, w.word, folded_name FROM unnest(folded_words) AS w(word);
    IF cardinality(NEW.emails) > 0 THEN
      INSERT INTO contact_search_emails (contact_id, email, sort_name)
      SELECT DISTINCT NEW.id, contact_search_fold(e.email), folded_name FROM unnest(NEW.emails) AS e(email);
    END IF;
    IF cardinality(NEW.phones) > 0 THEN
      INSERT INTO contact_search_phones (contact_id, digits, sort_name)
      SELECT NEW.id, d.digits, folded_name FROM contact_search_digits(NEW.phones) AS d(digits) WHERE d.digits IS NOT NULL;
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- The contacts already there: the same rows as the trigger writes, for the whole table at once.
WITH c AS (
  SELECT id, emails, contact_search_digits(phones) AS digits, contact_search_words(name) AS words FROM contacts
),
names AS (
  INSERT INTO contact_search_names (contact_id, word, sort_name)
  SELECT DISTINCT c.id, w.word, array_to_string(c.words, ' ') FROM c, unnest(c.words) AS w(word)
),
emails AS (
  INSERT INTO contact_search_emails (contact_id, email, sort_name)
  SELECT DISTINCT c.id, contact_search_fold(e.email), array_to_string(c.words, ' ') FROM c, unnest(c.emails) AS e(email)
)
INSERT INTO contact_search_phones (contact_id, digits, sort_name)
SELECT c.id, c.digits, array_to_string(c.words, ' ') FROM c WHERE c.digits IS NOT NULL;

CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
  FOR EACH ROW EXECUTE FUNCTION contact_search_refresh();
CREATE TRIGGER contacts_search_update AFTER UPDATE OF name, phones, emails ON contacts
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.phones IS DISTINCT FROM NEW.phones OR OLD.emails IS DISTINCT FROM NEW.emails)
  EXECUTE FUNCTION contact_search_refresh();
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts
  FOR EACH ROW EXECUTE FUNCTION contact_search_refresh();

-- Built after the rows are in: one sort each instead of a million inserts.
ALTER TABLE contact_search_names ADD PRIMARY KEY (contact_id, word);
ALTER TABLE contact_search_emails ADD PRIMARY KEY (contact_id, email);
ALTER TABLE contact_search_phones ADD PRIMARY KEY (contact_id);
-- Name words and emails: a prefix is a range of the first column, read in listing order.
CREATE INDEX contact_search_names_order ON contact_search_names (word, sort_name, contact_id);
CREATE INDEX contact_search_emails_order ON contact_search_emails (email, sort_name, contact_id);
-- Phone fragments: the trigram index finds a rare fragment; a common one (a country code) is
-- met soon enough reading contacts in listing order, which the second index gives.
CREATE INDEX contact_search_phones_trgm ON contact_search_phones USING gin (digits gin_trgm_ops);
CREATE INDEX contact_search_phones_order ON contact_search_phones (sort_name, contact_id) INCLUDE (digits);
-- The planner weighs those two by how many numbers hold the fragment: a finer histogram.
ALTER TABLE contact_search_phones ALTER COLUMN digits SET STATISTICS 1000;

ANALYZE contact_search_names, contact_search_emails, contact_search_phones;
