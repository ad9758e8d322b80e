-- The outbox in two parts, so that claiming reads only messages it can take. Ready: queued and
-- not held, in the order they are due. Leased: held by a dispatcher, by when the lease runs
-- out (a lease that ran out is claimable again). A message queued already claimed by the
-- replica that wrote it, or in flight, is only in the second and costs a claim nothing.
DROP INDEX IF EXISTS messages_outbox_idx;
CREATE INDEX messages_ready_idx ON messages (next_attempt_at, seq) WHERE status = 'queued' AND locked_until IS NULL;
CREATE INDEX messages_leased_idx ON messages (locked_until) WHERE status = 'queued' AND locked_until IS NOT NULL;
