-- Delivery reports that arrive before their message carries the provider's id: the provider
-- may report on a message (sent, delivered, even failed) before the dispatcher has written down
-- the id the provider answered with. They wait here and are applied once the id is recorded;
-- reports nobody claims (another system's messages on the same number) are dropped after an hour.
CREATE TABLE early_delivery_statuses (
  live_chat_id         uuid NOT NULL REFERENCES live_chats (id) ON DELETE CASCADE,
  provider_message_id  text NOT NULL,
  status               text NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  error                jsonb,
  reported_at          timestamptz NOT NULL,
  received_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (live_chat_id, provider_message_id, status)
);
CREATE INDEX early_delivery_statuses_received_idx ON early_delivery_statuses (received_at);

-- Processed webhook events are kept as long as a provider may deliver them again, then purged.
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);
