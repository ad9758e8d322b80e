-- Events carry a snapshot of the object they tell of, as the API shows it. Writers that make
-- their change in one statement build it there, from the rows they wrote (to_jsonb of a
-- session or message row), with these functions; the API's own mapping is in
-- src/sessions/model.ts, and a test holds the two to the same JSON.

-- A timestamp as the API writes it: RFC 3339 in UTC, to the millisecond.
CREATE FUNCTION api_time(t text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION session_json(s jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', s->'id', 'liveChatId', s->'live_chat_id', 'channel', s->'channel', 'contactId', s->'contact_id',
    'account', s->'account', 'operatorId', s->'operator_id', 'origin', s->'origin', 'status', s->'status',
    'createdAt', api_time(s->>'created_at'), 'updatedAt', api_time(s->>'updated_at'),
    'closedAt', CASE WHEN s->>'closed_at' IS NULL THEN 'null'::jsonb ELSE to_jsonb(api_time(s->>'closed_at')) END)
$$;

CREATE FUNCTION message_json(m jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', m->'id', 'sessionId', m->'session_id', 'direction', m->'direction', 'kind', m->'kind',
    'text', m->'text', 'template', m->'template', 'media', m->'media', 'subject', m->'subject',
    'status', m->'status', 'providerMessageId', m->'provider_message_id', 'error', m->'error',
    'attempts', m->'attempts', 'createdAt', api_time(m->>'created_at'), 'updatedAt', api_time(m->>'updated_at'))
$$;
