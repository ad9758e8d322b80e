-- Playing by the providers' rules: pacing per live chat, the WhatsApp template catalogue and
-- consent (opt-outs). Every unique index starts with live_chat_id.

-- Pacing. Every live chat's channel has a send rate; existing ones get their channel's default.
UPDATE live_chats
SET channel_settings = channel_settings || jsonb_build_object('sendRatePerSecond',
      CASE channel_type WHEN 'whatsapp' THEN 80 WHEN 'telegram' THEN 30 ELSE 10 END)
WHERE NOT channel_settings ? 'sendRatePerSecond';

-- A live chat's next free send slot, shared by every replica: whoever sends reserves slots
-- 1/rate apart from here, in the statement that claims the messages (or reserves them ahead
-- for messages handed over in memory). `last_taken` is how many the last reservation took,
-- so that the statement can work out where its slots start.
CREATE TABLE live_chat_pacing (
  live_chat_id     uuid PRIMARY KEY REFERENCES live_chats (id) ON DELETE CASCADE,
  rate_per_second  integer NOT NULL CHECK (rate_per_second BETWEEN 1 AND 1000),
  next_slot_at     timestamptz NOT NULL,
  last_taken       integer NOT NULL DEFAULT 0
);

-- The ready part of the outbox by live chat: claims look at each live chat with messages
-- waiting on its own, so that a live chat with a long backlog over its rate costs the others
-- nothing (it is skipped whole, not row by row).
DROP INDEX IF EXISTS messages_ready_idx;
CREATE INDEX messages_ready_by_chat_idx ON messages (live_chat_id, next_attempt_at, seq)
  WHERE status = 'queued' AND locked_until IS NULL;

-- Consent: people who opted out of a live chat, by normalised account (or `tg:<user id>`).
CREATE TABLE opt_outs (
  live_chat_id  uuid NOT NULL REFERENCES live_chats (id) ON DELETE CASCADE,
  account       text NOT NULL,
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  source        text NOT NULL CHECK (source IN ('api', 'keyword', 'provider')),
  reason        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (live_chat_id, account)
);
CREATE INDEX opt_outs_listing_idx ON opt_outs (live_chat_id, created_at DESC, id DESC);

-- The WhatsApp template catalogue of a live chat. `version` changes with every change of its
-- templates (0: never synced), so that an initiation decided on a cached copy is written only
-- while the catalogue is still the one it was checked against. `next_sync_at` schedules the
-- periodic sync; a replica claims a due one by moving it forward.
CREATE TABLE whatsapp_template_catalogues (
  live_chat_id  uuid PRIMARY KEY REFERENCES live_chats (id) ON DELETE CASCADE,
  version       integer NOT NULL DEFAULT 0,
  synced_at     timestamptz,
  next_sync_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE whatsapp_templates (
  live_chat_id  uuid NOT NULL REFERENCES live_chats (id) ON DELETE CASCADE,
  name          text NOT NULL,
  language      text NOT NULL,
  status        text NOT NULL,
  category      text,
  provider_id   text,
  -- The template's components as the Graph API lists them.
  components    jsonb NOT NULL,
  synced_at     timestamptz NOT NULL,
  PRIMARY KEY (live_chat_id, name, language)
);
