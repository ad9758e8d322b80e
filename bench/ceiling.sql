-- The essential SQL of one initiation, for pgbench: the contact, the session guarded by the
-- open-session partial unique indexes, and the queued message, in one transaction.
\set n random(1, 9000000000000000)
BEGIN;
INSERT INTO contacts (name, phones, emails) VALUES ('Bench', ARRAY['+1555' || :n]::text[], '{}') RETURNING id \gset c_
INSERT INTO sessions (live_chat_id, channel, contact_id, account, peer, operator_id, status)
  VALUES (:live_chat_id, 'whatsapp', :c_id, '+1555' || :n, '+1555' || :n, 'op-bench', 'open')
  ON CONFLICT DO NOTHING RETURNING id \gset s_
INSERT INTO messages (session_id, live_chat_id, direction, template, status, next_attempt_at)
  VALUES (:s_id, :live_chat_id, 'outbound', '{"name":"order_update","language":"en_US"}', 'queued', now());
COMMIT;
