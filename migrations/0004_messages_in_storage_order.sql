-- A session's messages are listed in the order they were stored (seq), not by their time: an
-- inbound message carries the provider's time, in whole seconds for Telegram.
DROP INDEX IF EXISTS messages_session_idx;
CREATE INDEX messages_session_seq_idx ON messages (session_id, seq);
