-- pgbench script of the ceiling (bench/ceiling-schema.sql): one initiation as one statement,
-- its own transaction — a new contact with a new phone, the session (ON CONFLICT DO NOTHING,
-- as the open-session rule needs), and its queued template message.
-- Run with -M prepared and -D live_chat_id=<uuid>.
\set n random(1000000000000, 9999999999999)
WITH contact AS (
  INSERT INTO c (name, phones, emails, created_at, updated_at)
  VALUES ('Bench Person', ARRAY['+49' || :n], '{}', now(), now())
  RETURNING id, phones[1] AS phone
), session AS (
  INSERT INTO s (id, live_chat_id, contact_id, address, channel, operator_id, created_at)
  SELECT gen_random_uuid(), :live_chat_id, contact.id, contact.phone, 'whatsapp', 'op-bench', now() FROM contact
  ON CONFLICT DO NOTHING
  RETURNING id
)
INSERT INTO m (id, session_id, body, created_at)
SELECT gen_random_uuid(), session.id, '{"template":{"name":"order_update","language":"en_US","parameters":["Bench"]}}', now()
FROM session;
