-- The same writes as bench/ceiling.sql as one prepared statement per initiation, guarded by
-- the operator's assignment: what the service sends when it is not busy (under load it puts
-- many initiations in one statement, see src/sessions/initiation-repository.ts).
\set n random(1, 9000000000000000)
WITH assigned AS (SELECT 1 FROM live_chat_operators WHERE live_chat_id = :live_chat_id AND operator_id = 'op-bench'),
contact AS (
  INSERT INTO contacts (name, phones, emails, created_at, updated_at)
  SELECT 'Bench', ARRAY['+1556' || :n]::text[], '{}'::text[], now(), now() FROM assigned RETURNING id),
session AS (
  INSERT INTO sessions (live_chat_id, channel, contact_id, account, peer, operator_id, status)
  SELECT :live_chat_id, 'whatsapp', contact.id, '+1556' || :n, '+1556' || :n, 'op-bench', 'open' FROM contact
  ON CONFLICT DO NOTHING RETURNING *),
message AS (
  INSERT INTO messages (session_id, live_chat_id, direction, text, template, status, next_attempt_at, created_at, updated_at)
  SELECT session.id, :live_chat_id, 'outbound', NULL, '{"name":"order_update","language":"en_US"}'::jsonb, 'queued', now(), now(), now()
  FROM session RETURNING *)
SELECT to_jsonb(session.*) AS session, (SELECT to_jsonb(message.*) FROM message) AS message FROM session;
