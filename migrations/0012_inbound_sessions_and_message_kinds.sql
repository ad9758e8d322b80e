-- Nothing a customer sends is dropped: a message from someone with no open session opens one,
-- unassigned (operator_id NULL), waiting in the live chat's queue until an operator takes it.
ALTER TABLE sessions ADD COLUMN origin text NOT NULL DEFAULT 'operator' CHECK (origin IN ('operator', 'inbound'));
ALTER TABLE sessions ALTER COLUMN operator_id DROP NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_operator_or_inbound CHECK (operator_id IS NOT NULL OR origin = 'inbound');
-- The queue: sessions nobody has taken (yet), newest first per live chat.
CREATE INDEX sessions_unassigned_idx ON sessions (live_chat_id, created_at DESC, id DESC) WHERE operator_id IS NULL;

-- Messages of every kind: text, template, media (its bytes stay with the provider), location,
-- contacts; an email's subject.
ALTER TABLE messages ADD COLUMN kind text NOT NULL DEFAULT 'text'
  CHECK (kind IN ('text', 'template', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'other'));
ALTER TABLE messages ADD COLUMN media jsonb;
ALTER TABLE messages ADD COLUMN subject text;
UPDATE messages SET kind = 'template' WHERE template IS NOT NULL;

-- A person's earlier sessions on a live chat (open or not): a message from them that opens a
-- new session goes to the contact of their latest one.
CREATE INDEX sessions_peer_idx ON sessions (live_chat_id, peer, created_at DESC);
