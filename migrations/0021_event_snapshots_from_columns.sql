-- Event snapshots are built from the written row's own columns (src/events/snapshots.ts): the
-- functions of 0014 took the whole row as jsonb and its fields out of it, timestamps parsed
-- back from text, about four times the cost per snapshot. Nothing calls them any more.
DROP FUNCTION session_json(jsonb);
DROP FUNCTION message_json(jsonb);
DROP FUNCTION api_time(text);
