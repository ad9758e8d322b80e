-- The event log: every change a calling service hears about, written in the transaction of the
-- change. `xid` is that transaction: readers order by (xid, position) and show only events of
-- transactions older than every one still running (event_log_horizon below), so that an event
-- whose transaction commits after a later-numbered one is never skipped.
CREATE TABLE events (
  position bigint GENERATED ALWAYS AS IDENTITY,
  id uuid NOT NULL,
  type text NOT NULL,
  live_chat_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  data jsonb NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  CONSTRAINT events_pkey PRIMARY KEY (live_chat_id, id)
);
CREATE INDEX events_log_order ON events (xid, position);
CREATE INDEX events_live_chat_log_order ON events (live_chat_id, xid, position);
-- The log is appended in time order: a block range index finds what retention purges.
CREATE INDEX events_occurred_at ON events USING brin (occurred_at);

-- Events of transactions below this xid are final: every transaction that could still write
-- one has a larger xid. It is pg_snapshot_xmin(pg_current_snapshot()) except that running
-- transactions known to belong to another database of the cluster (which cannot write this
-- log) do not hold it back; one whose database is unknown does.
CREATE FUNCTION event_log_horizon() RETURNS xid8 LANGUAGE sql STABLE AS $$
  SELECT coalesce(min(x.xid), pg_snapshot_xmax(pg_current_snapshot()))
  FROM pg_snapshot_xip(pg_current_snapshot()) AS x(xid)
  WHERE NOT EXISTS (
    SELECT 1 FROM pg_stat_activity AS a
    WHERE a.backend_xid = x.xid::xid
      AND a.datid <> (SELECT d.oid FROM pg_database AS d WHERE d.datname = current_database())
  )
$$;

-- Webhook subscriptions. `secrets` is sealed (SECRETS_KEY); the previous secret signs too until
-- `previous_secret_expires_at`. (`after_xid`, `after_position`) is how far the subscription has
-- read the log; events of transactions visible in `since_snapshot` happened before it started.
CREATE TABLE event_subscriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  url text NOT NULL,
  types text[],
  live_chat_ids uuid[],
  description text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
  secrets text NOT NULL,
  previous_secret_expires_at timestamptz,
  after_xid xid8 NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
  after_position bigint NOT NULL DEFAULT 0,
  since_snapshot pg_snapshot NOT NULL DEFAULT pg_current_snapshot(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The events' own outbox: one row per subscription and event, claimed like messages
-- (FOR UPDATE SKIP LOCKED, a lease, backoff).
CREATE TABLE event_deliveries (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  live_chat_id uuid NOT NULL,
  event_id uuid NOT NULL,
  subscription_id uuid NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz DEFAULT now(),
  locked_until timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_deliveries_pkey PRIMARY KEY (live_chat_id, id),
  CONSTRAINT event_deliveries_event_subscription_key UNIQUE (live_chat_id, event_id, subscription_id),
  CONSTRAINT event_deliveries_event_fkey FOREIGN KEY (live_chat_id, event_id) REFERENCES events (live_chat_id, id) ON DELETE CASCADE
);
CREATE INDEX event_deliveries_due ON event_deliveries (subscription_id, next_attempt_at) WHERE status = 'pending' AND locked_until IS NULL;
CREATE INDEX event_deliveries_leased ON event_deliveries (subscription_id, locked_until) WHERE status = 'pending' AND locked_until IS NOT NULL;
CREATE INDEX event_deliveries_listing ON event_deliveries (subscription_id, created_at, id);
