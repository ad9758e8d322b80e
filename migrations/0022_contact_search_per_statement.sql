-- A contact's search rows (0011, 0018) are written once per INSERT statement for all the
-- contacts it adds, instead of by a row trigger each: the service adds many contacts in one
-- statement (one per session of a group commit), and a row trigger runs its statements anew
-- for every contact. Measured in psql on this machine, 13 contacts per INSERT into ~60,000:
-- 165–190 µs of search upkeep per contact by row, 110–115 by statement (an INSERT without
-- any: ~17). The suffix function's BEGIN ATOMIC form ran at half the speed of the same query
-- as a plain SQL body (21 against 12 µs per contact), so it is redefined as one.
-- Updates and deletes stay row by row (few, and an UPDATE trigger that lists columns, so
-- that only a change of name, phones or emails fires it, cannot have transition tables).

-- Unchanged but for the body's form.
CREATE OR REPLACE FUNCTION contact_search_phone_suffixes(phones text[]) RETURNS SETOF text
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT substr(d.digits, i.start)
    FROM unnest(string_to_array(contact_search_digits(phones), ' ')) AS d(digits),
         generate_series(1, length(d.digits) - 2) AS i(start)
  $$;

-- The search rows of `added` contacts: the folded words of the name, the folded emails, the
-- phones' digits and their suffixes, each with the name to sort by. The one place they are made.
CREATE FUNCTION contact_search_add(added contacts[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  WITH c AS MATERIALIZED (
    SELECT c.id, c.phones, c.emails, w.words, array_to_string(w.words, ' ') AS sort_name
    FROM unnest(added) AS c CROSS JOIN LATERAL (SELECT contact_search_words(c.name) AS words) AS w
  ),
  names AS (
    INSERT INTO contact_search_names (contact_id, word, sort_name)
    SELECT DISTINCT c.id, w.word, c.sort_name FROM c CROSS JOIN LATERAL unnest(c.words) AS w(word)
  ),
  emails AS (
    INSERT INTO contact_search_emails (contact_id, email, sort_name)
    SELECT DISTINCT c.id, contact_search_fold(e.email), c.sort_name FROM c CROSS JOIN LATERAL unnest(c.emails) AS e(email)
  ),
  phones AS (
    INSERT INTO contact_search_phones (contact_id, digits, sort_name)
    SELECT c.id, d.digits, c.sort_name FROM c CROSS JOIN LATERAL contact_search_digits(c.phones) AS d(digits)
    WHERE d.digits IS NOT NULL
  )
  INSERT INTO contact_search_phone_suffixes (suffix, sort_name, contact_id)
  SELECT s.suffix, c.sort_name, c.id FROM c CROSS JOIN LATERAL contact_search_phone_suffixes(c.phones) AS s(suffix);
END $$;

CREATE FUNCTION contact_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM contact_search_add(ARRAY(SELECT c::contacts FROM new_contacts AS c));
  RETURN NULL;
END $$;

-- A changed or deleted contact: its rows go, and a changed one's are made again.
CREATE OR REPLACE FUNCTION contact_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM contact_search_names WHERE contact_id = OLD.id;
  DELETE FROM contact_search_emails WHERE contact_id = OLD.id;
  DELETE FROM contact_search_phones WHERE contact_id = OLD.id;
  IF cardinality(OLD.phones) > 0 THEN
    -- Each of the old suffixes is a short range of the index; the contact's rows are in it.
    DELETE FROM contact_search_phone_suffixes
    WHERE suffix = ANY (ARRAY(SELECT contact_search_phone_suffixes(OLD.phones))) AND contact_id = OLD.id;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    PERFORM contact_search_add(ARRAY[NEW]);
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER contacts_search_insert ON contacts;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
  REFERENCING NEW TABLE AS new_contacts FOR EACH STATEMENT EXECUTE FUNCTION contact_search_insert();
