-- Initial data model. Every unique index on a per-live-chat table starts with
-- live_chat_id so that it stays enforceable inside one shard when distributed.

CREATE TABLE api_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  scopes      text[] NOT NULL,
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE live_chats (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name               text NOT NULL,
  channel_type       text NOT NULL CHECK (channel_type IN ('whatsapp', 'telegram', 'email')),
  channel_settings   jsonb NOT NULL,
  channel_secrets    text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE live_chat_operators (
  live_chat_id  uuid NOT NULL REFERENCES live_chats (id) ON DELETE CASCADE,
  operator_id   text NOT NULL,
  assigned_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (live_chat_id, operator_id)
);

CREATE TABLE contacts (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  phones      text[] NOT NULL DEFAULT '{}',
  emails      text[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_phones_idx ON contacts USING gin (phones);
CREATE INDEX contacts_emails_idx ON contacts USING gin (emails);
CREATE INDEX contacts_created_idx ON contacts (created_at DESC, id DESC);

CREATE TABLE sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  live_chat_id  uuid NOT NULL REFERENCES live_chats (id),
  channel       text NOT NULL CHECK (channel IN ('whatsapp', 'telegram', 'email')),
  contact_id    uuid NOT NULL REFERENCES contacts (id),
  account       text NOT NULL,
  -- The provider's identity of the person (Telegram user id, WhatsApp number, lower-cased
  -- email): one person reached through two accounts (phone and @username) is still one person.
  peer          text NOT NULL,
  operator_id   text NOT NULL,
  status        text NOT NULL CHECK (status IN ('open', 'closed')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  closed_at     timestamptz
);
-- The central rule: one open session per person per live chat, by account and by contact.
CREATE UNIQUE INDEX sessions_open_account_key ON sessions (live_chat_id, account) WHERE status = 'open';
CREATE UNIQUE INDEX sessions_open_contact_key ON sessions (live_chat_id, contact_id) WHERE status = 'open';
CREATE UNIQUE INDEX sessions_open_peer_key ON sessions (live_chat_id, peer) WHERE status = 'open';
CREATE INDEX sessions_created_idx ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_live_chat_created_idx ON sessions (live_chat_id, created_at DESC, id DESC);
CREATE INDEX sessions_contact_idx ON sessions (contact_id);

CREATE TABLE messages (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id           uuid NOT NULL REFERENCES sessions (id),
  live_chat_id         uuid NOT NULL REFERENCES live_chats (id),
  direction            text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
  text                 text,
  template             jsonb,
  status               text NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'failed', 'received')),
  provider_message_id  text,
  provider_recipient   text,
  error                jsonb,
  attempts             integer NOT NULL DEFAULT 0,
  next_attempt_at      timestamptz,
  locked_until         timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_session_idx ON messages (session_id, created_at, id);
-- The outbox: queued outbound messages, claimed by due time.
CREATE INDEX messages_outbox_idx ON messages (next_attempt_at) WHERE status = 'queued';
CREATE UNIQUE INDEX messages_provider_id_key ON messages (live_chat_id, provider_message_id)
  WHERE provider_message_id IS NOT NULL;

-- Who has written to a live chat's channel, and when they last did.
CREATE TABLE channel_contacts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  live_chat_id       uuid NOT NULL REFERENCES live_chats (id) ON DELETE CASCADE,
  external_user_id   text NOT NULL,
  chat_id            text,
  username           text,
  phone              text,
  first_inbound_at   timestamptz NOT NULL,
  last_inbound_at    timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channel_contacts_user_key ON channel_contacts (live_chat_id, external_user_id);
CREATE INDEX channel_contacts_phone_idx ON channel_contacts (live_chat_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX channel_contacts_username_idx ON channel_contacts (live_chat_id, lower(username)) WHERE username IS NOT NULL;

-- Provider events already processed (Telegram update_id, WhatsApp message id), for replays.
CREATE TABLE processed_events (
  live_chat_id  uuid NOT NULL REFERENCES live_chats (id) ON DELETE CASCADE,
  event_id      text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (live_chat_id, event_id)
);

CREATE TABLE idempotency_keys (
  api_key_id     text NOT NULL,
  key            text NOT NULL,
  fingerprint    text NOT NULL,
  status         text NOT NULL CHECK (status IN ('running', 'done')),
  response_code  integer,
  response_body  jsonb,
  locked_until   timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
