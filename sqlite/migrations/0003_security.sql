-- The security gateway: narrowed keys (scopes), key use and the key
-- generation counter that lets servers cache key lookups safely.

-- Space-separated permissions narrowing the key's role; '' = the whole role.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
