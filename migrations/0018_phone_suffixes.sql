-- Phone fragments by suffix. A fragment anywhere in a number is the start of one of the
-- number's suffixes ('2345' starts '23456789', a suffix of 4915123456789), so every suffix of
-- three or more digits of every phone is a row here, in a btree: the numbers holding a
-- fragment are one range of it, read without touching a table. This replaces the trigram
-- index, whose candidates (a few hundred to a few thousand for a 4-digit fragment at a
-- million contacts) each cost a table read and a recheck, 5–15 ms.
--
-- A fragment that many numbers hold (a country code) is still met by reading
-- contact_search_phones in listing order; the search reads at most a few thousand entries of
-- this range before it turns to that.

-- Writers wait until the existing phones are in and the trigger writes the new rows.
LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE;

-- The suffixes of three or more digits of each phone, each once.
CREATE FUNCTION contact_search_phone_suffixes(phones text[]) RETURNS SETOF text
  LANGUAGE sql STABLE PARALLEL SAFE
  BEGIN ATOMIC
    SELECT DISTINCT substr(d.digits, i.start)
    FROM unnest(string_to_array(contact_search_digits(phones), ' ')) AS d(digits),
         generate_series(1, length(d.digits) - 2) AS i(start);
  END;

CREATE TABLE contact_search_phone_suffixes (
  suffix      text COLLATE "C" NOT NULL,
  sort_name   text COLLATE "C" NOT NULL,
  contact_id  uuid NOT NULL
);

INSERT INTO contact_search_phone_suffixes (suffix, sort_name, contact_id)
SELECT s.suffix, p.sort_name, c.id
FROM contacts AS c
  JOIN contact_search_phones AS p ON p.contact_id = c.id
  CROSS JOIN LATERAL contact_search_phone_suffixes(c.phones) AS s(suffix);

-- One index, no key: a range of suffixes gives the contacts and their names for sorting;
-- a contact's own rows are found by their suffixes (see the trigger), so no index by contact.
CREATE INDEX contact_search_phone_suffixes_order ON contact_search_phone_suffixes (suffix, sort_name, contact_id);

DROP INDEX contact_search_phones_trgm;

-- The trigger of 0011 with the suffix rows added.
CREATE OR REPLACE FUNCTION contact_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  folded_words text[];
  folded_name text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM contact_search_names WHERE contact_id = OLD.id;
    DELETE FROM contact_search_emails WHERE contact_id = OLD.id;
    DELETE FROM contact_search_phones WHERE contact_id = OLD.id;
    IF cardinality(OLD.phones) > 0 THEN
      -- Each of the old suffixes is a short range of the index; the contact's rows are in it.
      DELETE FROM contact_search_phone_suffixes
      WHERE suffix = ANY (ARRAY(SELECT contact_search_phone_suffixes(OLD.phones))) AND contact_id = OLD.id;
    END IF;
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
      INSERT INTO contact_search_phone_suffixes (suffix, sort_name, contact_id)
      SELECT s.suffix, folded_name, NEW.id FROM contact_search_phone_suffixes(NEW.phones) AS s(suffix);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

ANALYZE contact_search_phone_suffixes;
