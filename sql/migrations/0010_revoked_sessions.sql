-- Drift-page sessions signed out before they expired: a copied cookie must not outlive its logout.
-- Holds a SHA-256 digest of the cookie, never the cookie; rows go once the session would have expired.
CREATE TABLE revoked_sessions (
    session_digest  text PRIMARY KEY,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
