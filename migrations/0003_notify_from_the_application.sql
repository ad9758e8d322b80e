-- A NOTIFY in a transaction takes a database-wide lock at commit, so every initiation's commit
-- waited for the previous one's (measured: about 40% of the write ceiling lost at 32 clients).
-- The application now wakes its own dispatcher in process after a commit and sends at most
-- one NOTIFY messages_queued every 100 ms for the other replicas; their 1 s poll covers the rest.
DROP TRIGGER IF EXISTS messages_queued_notify ON messages;
DROP FUNCTION IF EXISTS notify_messages_queued();
