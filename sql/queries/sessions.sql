-- Revoked drift-page sessions (migration 0010).

-- revoke_session --
INSERT INTO revoked_sessions (session_digest, expires_at) VALUES ($1, $2)
ON CONFLICT (session_digest) DO NOTHING

-- prune_revoked_sessions --
DELETE FROM revoked_sessions WHERE expires_at < now()

-- session_revoked --
SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE session_digest = $1)
