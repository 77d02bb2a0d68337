-- sealdrop state, version 1: users, API tokens, OIDC identities.
--
-- Portable SQL: the same text runs on SQLite and PostgreSQL. Times are
-- BIGINT milliseconds since the Unix epoch (UTC); a state is a nullable time
-- (`disabled_at`, `revoked_at`) rather than a flag, so every change says when.
-- Token secrets are never stored: only their SHA-256, hex.

CREATE TABLE users (
    name         TEXT PRIMARY KEY,
    -- 'local' (created by an operator or imported) or 'oidc' (auto-provisioned).
    origin       TEXT NOT NULL DEFAULT 'local',
    created_at   BIGINT NOT NULL,
    disabled_at  BIGINT,
    last_seen_at BIGINT
);

CREATE TABLE api_tokens (
    -- Public identifier (a prefix of the hash), shown by `admin user list`.
    id           TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL UNIQUE,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    label        TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_name);

-- An OpenID Connect identity is (issuer, subject); it maps to a user by an
-- explicit link or by auto-provisioning. `display_name` is shown, never trusted.
CREATE TABLE oidc_identities (
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    display_name TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_by_user ON oidc_identities (user_name);
