-- Claiming webhook deliveries in one statement could pass a subscription's limit of
-- deliveries in flight across replicas: the statement's snapshot is taken when it starts, so a
-- subscription row it locked just after another replica's claim committed was counted without
-- that claim's leases. The claim is now a function: it locks the subscriptions in one statement
-- and claims in the next, whose snapshot (READ COMMITTED takes one per statement) is taken
-- after the lock and so holds every lease committed before it. Still one round trip.
CREATE FUNCTION claim_event_deliveries(claim_limit integer, per_subscription integer, lease_ms integer)
RETURNS TABLE (
  id uuid, live_chat_id uuid, subscription_id uuid, attempts integer, locked_until timestamptz,
  event_id uuid, type text, occurred_at timestamptz, data jsonb,
  url text, secrets text, previous_secret_expires_at timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  locked uuid[];
BEGIN
  locked := ARRAY(
    SELECT s.id FROM event_subscriptions AS s WHERE s.status = 'active' ORDER BY s.id
    FOR NO KEY UPDATE SKIP LOCKED
  );
  IF cardinality(locked) = 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
    WITH room AS (
      SELECT sub.id, per_subscription - (
        SELECT count(*) FROM event_deliveries AS d
        WHERE d.subscription_id = sub.id AND d.status = 'pending' AND d.locked_until IS NOT NULL AND d.locked_until > now()
      )::integer AS free
      FROM unnest(locked) AS sub(id)
    ),
    picked AS (
      SELECT due.live_chat_id, due.id
      FROM room CROSS JOIN LATERAL (
        SELECT d.live_chat_id, d.id
        FROM event_deliveries AS d
        WHERE d.subscription_id = room.id AND d.status = 'pending' AND d.locked_until IS NULL AND d.next_attempt_at <= now()
          AND EXISTS (SELECT FROM events AS e WHERE e.live_chat_id = d.live_chat_id AND e.id = d.event_id)
        ORDER BY d.next_attempt_at
        LIMIT greatest(room.free, 0)
        FOR UPDATE OF d SKIP LOCKED
      ) AS due
      LIMIT claim_limit
    )
    UPDATE event_deliveries AS d
    SET locked_until = date_trunc('milliseconds', now() + lease_ms * interval '1 millisecond'),
        attempts = d.attempts + 1,
        updated_at = now()
    FROM picked AS p, events AS e, event_subscriptions AS s
    WHERE d.live_chat_id = p.live_chat_id AND d.id = p.id
      AND e.live_chat_id = d.live_chat_id AND e.id = d.event_id AND s.id = d.subscription_id
    RETURNING d.id, d.live_chat_id, d.subscription_id, d.attempts, d.locked_until,
              e.id, e.type, e.occurred_at, e.data, s.url, s.secrets, s.previous_secret_expires_at;
END $$;
