-- WhatsApp numbers are now compared in one form (see whatsAppPeer in src/accounts/accounts.ts):
-- Brazilian mobiles without the ninth digit get it, Mexican mobiles lose the 1 after 52.
-- Existing WhatsApp sessions and senders are brought to that form; an open session is left as
-- it is where another open session on its live chat already holds the new form.
WITH renamed AS (
  SELECT id, live_chat_id, status, CASE
      WHEN peer ~ '^\+55[1-9][0-9][6-9][0-9]{7}$' THEN regexp_replace(peer, '^\+55([0-9]{2})', '+55\19')
      WHEN peer ~ '^\+521[0-9]{10}$' THEN '+52' || substr(peer, 5)
    END AS peer
  FROM sessions
  WHERE channel = 'whatsapp' AND (peer ~ '^\+55[1-9][0-9][6-9][0-9]{7}$' OR peer ~ '^\+521[0-9]{10}$')
)
UPDATE sessions AS s
SET peer = r.peer
FROM renamed AS r
WHERE s.id = r.id
  AND NOT (r.status = 'open' AND EXISTS (
    SELECT 1 FROM sessions AS o WHERE o.live_chat_id = r.live_chat_id AND o.status = 'open' AND o.peer = r.peer
  ));

UPDATE channel_contacts AS c
SET phone = CASE
    WHEN c.phone ~ '^\+55[1-9][0-9][6-9][0-9]{7}$' THEN regexp_replace(c.phone, '^\+55([0-9]{2})', '+55\19')
    ELSE '+52' || substr(c.phone, 5)
  END
FROM live_chats AS l
WHERE l.id = c.live_chat_id AND l.channel_type = 'whatsapp'
  AND (c.phone ~ '^\+55[1-9][0-9][6-9][0-9]{7}$' OR c.phone ~ '^\+521[0-9]{10}$');
