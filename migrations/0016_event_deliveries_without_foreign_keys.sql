-- Deliveries are written for every event a subscription takes, several per initiation under
-- load. Their two foreign keys made each insert lock its event's row and its subscription's
-- (FOR KEY SHARE: a write to the event's page; on the subscription's row, which the fan-out
-- already holds FOR NO KEY UPDATE, a multixact), a third of the fan-out's time. Deliveries are
-- only written from an event read in the same statement and a subscription locked by it (the
-- fan-out, replay), so what the keys still did was delete: these triggers do that now, in the
-- statement that deletes the event or the subscription. Claims skip a delivery whose event is
-- gone (a purge racing a replay of events past their retention).
ALTER TABLE event_deliveries DROP CONSTRAINT event_deliveries_event_fkey;
ALTER TABLE event_deliveries DROP CONSTRAINT event_deliveries_subscription_id_fkey;

CREATE FUNCTION event_deliveries_delete_of_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_deliveries AS d USING deleted AS e WHERE d.live_chat_id = e.live_chat_id AND d.event_id = e.id;
  RETURN NULL;
END $$;

CREATE TRIGGER events_delete_deliveries AFTER DELETE ON events
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION event_deliveries_delete_of_events();

CREATE FUNCTION event_deliveries_delete_of_subscriptions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_deliveries AS d USING deleted AS s WHERE d.subscription_id = s.id;
  RETURN NULL;
END $$;

CREATE TRIGGER event_subscriptions_delete_deliveries AFTER DELETE ON event_subscriptions
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION event_deliveries_delete_of_subscriptions();
