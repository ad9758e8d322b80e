-- The ceiling's database: only what one initiation must write, with the constraints that make
-- it correct — a contact findable by phone, a session under the two open-session partial
-- unique indexes, and its queued message. Created in a scratch database of its own by
-- `npm run bench` (bench/run.ts) and dropped with it.
CREATE TABLE c (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text,
  phones text[],
  emails text[],
  created_at timestamptz,
  updated_at timestamptz
);
CREATE INDEX c_phones_idx ON c USING gin (phones);

CREATE TABLE s (
  id uuid PRIMARY KEY,
  live_chat_id uuid,
  contact_id uuid REFERENCES c,
  address text,
  channel text,
  status text DEFAULT 'open',
  operator_id text,
  created_at timestamptz,
  closed_at timestamptz
);
CREATE UNIQUE INDEX s_open_address_idx ON s (live_chat_id, address) WHERE status = 'open';
CREATE UNIQUE INDEX s_open_contact_idx ON s (live_chat_id, contact_id) WHERE status = 'open';

CREATE TABLE m (
  id uuid PRIMARY KEY,
  session_id uuid REFERENCES s,
  body jsonb,
  status text DEFAULT 'queued',
  created_at timestamptz
);
