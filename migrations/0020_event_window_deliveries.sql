-- A window's events that its receiver took at the first attempt are written as one row for the
-- window instead of one delivery each. A delivery row (the row and its three indexes, for every
-- event of every subscription) made writing a window cost about 44 µs of statement time per
-- event under `npm run bench`; one row for the window, about 10. Everything else — a first
-- attempt that failed, one not tried in time, retries and replays — stays a delivery as before.
-- The deliveries listing shows both, a window's events as `delivered` after one attempt.
--
-- Keyed by subscription (a window reads across live chats, like its subscription); its events'
-- live chats are kept beside their ids so that each is read by the events' key.
CREATE TABLE event_window_deliveries (
  subscription_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  created_at timestamptz NOT NULL DEFAULT now(),
  event_ids uuid[] NOT NULL,
  live_chat_ids uuid[] NOT NULL,
  status_codes integer[] NOT NULL,
  CONSTRAINT event_window_deliveries_pkey PRIMARY KEY (subscription_id, created_at, id),
  CONSTRAINT event_window_deliveries_same_length CHECK (
    cardinality(event_ids) = cardinality(live_chat_ids) AND cardinality(event_ids) = cardinality(status_codes)
  )
);
-- For the retention purge.
CREATE INDEX event_window_deliveries_created ON event_window_deliveries (created_at);

-- A deleted subscription takes its window rows with its deliveries.
CREATE OR REPLACE FUNCTION event_deliveries_delete_of_subscriptions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_deliveries AS d USING deleted AS s WHERE d.subscription_id = s.id;
  DELETE FROM event_window_deliveries AS w USING deleted AS s WHERE w.subscription_id = s.id;
  RETURN NULL;
END $$;
