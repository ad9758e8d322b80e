-- Session batches: one request that initiates with many people. The batch is kept once; each
-- recipient is a row with its outcome, claimed in chunks (FOR UPDATE SKIP LOCKED, a lease) by
-- any replica's batch worker, so a batch survives restarts and replica deaths and resumes where
-- it was. A recipient's session and its outcome 'created' are written by one statement.
CREATE TABLE session_batches (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  live_chat_id uuid NOT NULL REFERENCES live_chats (id),
  operator_id text NOT NULL,
  message jsonb NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'canceled')),
  total integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT session_batches_pkey PRIMARY KEY (live_chat_id, id)
);
CREATE INDEX session_batches_id_idx ON session_batches (id);
CREATE INDEX session_batches_running_idx ON session_batches (created_at) WHERE status = 'running';

CREATE TABLE batch_recipients (
  live_chat_id uuid NOT NULL,
  batch_id uuid NOT NULL,
  index integer NOT NULL,
  reference text,
  -- The recipient as given (contactId or contact, account, parameters), formats checked.
  input jsonb NOT NULL,
  outcome text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'created', 'refused', 'canceled')),
  session_id uuid,
  error jsonb,
  locked_until timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT batch_recipients_pkey PRIMARY KEY (live_chat_id, batch_id, index),
  CONSTRAINT batch_recipients_batch_fkey FOREIGN KEY (live_chat_id, batch_id) REFERENCES session_batches (live_chat_id, id) ON DELETE CASCADE
);
-- The work: pending recipients in batch and index order, to claim a chunk from.
CREATE INDEX batch_recipients_pending_idx ON batch_recipients (batch_id, index) WHERE outcome = 'pending';
-- Listing a batch's recipients by outcome, and counting them.
CREATE INDEX batch_recipients_outcome_idx ON batch_recipients (batch_id, outcome, index);
