-- Webhooks are first sent straight from the log. A replica takes a window of a subscription's
-- next events under a lease (`window_until`) and sends them with at most `window_slots` in
-- flight; when the window is done, one statement writes each event's delivery with its outcome
-- and moves the subscription's position past the window. Until then the position stays, so a
-- window whose holder died is taken again once its lease runs out (at least once). A delivery
-- row is written once, with its first outcome, instead of queued, claimed and then updated:
-- only retries and replays go through the claim below.
ALTER TABLE event_subscriptions
  ADD COLUMN window_until timestamptz,
  ADD COLUMN window_slots integer NOT NULL DEFAULT 0;

-- The webhooks a subscription may still have in flight: its limit less its retries under a
-- lease and, while its window is under lease, the window's slots. The one rule both claims
-- below keep, across replicas (each counts under a lock on the subscription's row).
CREATE FUNCTION event_subscription_room(subscription uuid, per_subscription integer) RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT per_subscription
    - (SELECT count(*) FROM event_deliveries AS d
       WHERE d.subscription_id = subscription AND d.status = 'pending' AND d.locked_until IS NOT NULL AND d.locked_until > now())::integer
    - coalesce((SELECT s.window_slots FROM event_subscriptions AS s WHERE s.id = subscription AND s.window_until > now()), 0)
$$;

-- Claims windows: every active subscription not being read by another replica (its row is
-- skipped while locked; a window under an unexpired lease is skipped), at most `max_windows`,
-- each the events matching it among the next `max_events` of the log that are final (the same
-- rule as GET /events). Slots are what the subscription's limit leaves after its retries in
-- flight. A subscription none of whose scanned events match moves past them at once. Returns
-- one row per event of each window; and one row without an event for a subscription that
-- moved past a full scan without a window (there may be more to read at once). In no
-- particular order: webhooks promise none, and the window's end is the scan's.
CREATE FUNCTION claim_event_windows(max_windows integer, max_events integer, per_subscription integer, lease_ms integer)
RETURNS TABLE (
  subscription_id uuid, url text, secrets text, previous_secret_expires_at timestamptz,
  lease_until timestamptz, slots integer, end_xid xid8, end_position bigint, full_scan boolean,
  event_id uuid, live_chat_id uuid, type text, occurred_at timestamptz, data jsonb
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  locked uuid[];
  horizon xid8;
BEGIN
  locked := ARRAY(
    SELECT s.id FROM event_subscriptions AS s
    WHERE s.status = 'active' AND (s.window_until IS NULL OR s.window_until <= now())
    ORDER BY s.id
    LIMIT max_windows
    FOR NO KEY UPDATE SKIP LOCKED
  );
  IF cardinality(locked) = 0 THEN
    RETURN;
  END IF;
  horizon := event_log_horizon();
  RETURN QUERY
    WITH sub AS MATERIALIZED (
      SELECT s.id, s.types, s.live_chat_ids, s.since_snapshot, s.after_xid, s.after_position,
        event_subscription_room(s.id, per_subscription) AS free
      FROM event_subscriptions AS s
      WHERE s.id = ANY(locked)
    ),
    scanned AS MATERIALIZED (
      SELECT s.id AS sub_id, s.free, e.live_chat_id AS chat_id, e.id AS ev_id, e.type AS ev_type, e.xid AS ev_xid,
        e.position AS ev_position,
        (s.types IS NULL OR e.type = ANY(s.types))
          AND (s.live_chat_ids IS NULL OR e.live_chat_id = ANY(s.live_chat_ids))
          AND NOT pg_visible_in_snapshot(e.xid, s.since_snapshot) AS matches
      FROM sub AS s
      CROSS JOIN LATERAL (
        SELECT e.live_chat_id, e.id, e.type, e.xid, e.position
        FROM events AS e
        WHERE (e.xid, e.position) > (s.after_xid, s.after_position)
          AND e.xid < horizon
        ORDER BY e.xid, e.position
        LIMIT max_events
      ) AS e
      WHERE s.free > 0
    ),
    reached AS MATERIALIZED (
      SELECT r.sub_id, r.free, r.ev_xid AS last_xid, r.ev_position AS last_position, r.any_match, r.n >= max_events AS full_scan
      FROM (
        SELECT DISTINCT ON (sc.sub_id) sc.sub_id, sc.free, sc.ev_xid, sc.ev_position,
          bool_or(sc.matches) OVER (PARTITION BY sc.sub_id) AS any_match,
          count(*) OVER (PARTITION BY sc.sub_id) AS n
        FROM scanned AS sc
        ORDER BY sc.sub_id, sc.ev_xid DESC, sc.ev_position DESC
      ) AS r
    ),
    moved AS (
      UPDATE event_subscriptions AS s
      SET after_xid = CASE WHEN r.any_match THEN s.after_xid ELSE r.last_xid END,
          after_position = CASE WHEN r.any_match THEN s.after_position ELSE r.last_position END,
          window_until = CASE WHEN r.any_match THEN date_trunc('milliseconds', now() + lease_ms * interval '1 millisecond') END,
          window_slots = CASE WHEN r.any_match THEN r.free ELSE 0 END
      FROM reached AS r
      WHERE s.id = r.sub_id
      RETURNING s.id AS sub_id, s.url AS sub_url, s.secrets AS sub_secrets, s.previous_secret_expires_at AS sub_previous,
        s.window_until AS sub_lease, s.window_slots AS sub_slots
    )
    SELECT m.sub_id, m.sub_url, m.sub_secrets, m.sub_previous, m.sub_lease, m.sub_slots, r.last_xid, r.last_position, r.full_scan,
      sc.ev_id, sc.chat_id, sc.ev_type, ev.occurred_at, ev.data
    FROM moved AS m
    JOIN reached AS r ON r.sub_id = m.sub_id
    LEFT JOIN scanned AS sc ON m.sub_lease IS NOT NULL AND sc.sub_id = m.sub_id AND sc.matches
    -- Each taken event's snapshot read once, by its key, at the end: carried through the steps
    -- above it was copied three times (twice as slow for a window of 240).
    LEFT JOIN events AS ev ON ev.live_chat_id = sc.chat_id AND ev.id = sc.ev_id
    WHERE m.sub_lease IS NOT NULL OR r.full_scan;
END $$;

-- Retries share a subscription's limit with its window (event_subscription_room).
CREATE OR REPLACE FUNCTION claim_event_deliveries(claim_limit integer, per_subscription integer, lease_ms integer)
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
      SELECT sub.id, event_subscription_room(sub.id, per_subscription) AS free
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
