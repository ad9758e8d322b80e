-- Restricted API keys: the live chats a key may act in. NULL (every existing key) is
-- unrestricted. api_keys is not per live chat (a reference table when distributed).
ALTER TABLE api_keys ADD COLUMN live_chat_ids uuid[];
