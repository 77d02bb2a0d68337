-- sealdrop state, version 3: share links. A link is <broker>/s/<id>#<secret>;
-- only the secret's SHA-256 is kept. Each shared object is pinned to the ETag
-- it had when it was shared, and counts its own downloads: a download is
-- counted by one conditional UPDATE (downloads < max_downloads), so replicas
-- racing on the last download cannot both win.
CREATE TABLE shares (
    id             TEXT PRIMARY KEY,
    secret_sha256  TEXT NOT NULL,
    user_name      TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    note           TEXT,
    max_downloads  BIGINT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    last_access_at BIGINT,
    revoked_at     BIGINT
);
CREATE INDEX shares_by_user ON shares (user_name);
CREATE TABLE share_objects (
    share_id      TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    object_key    TEXT NOT NULL,
    etag          TEXT NOT NULL,
    downloads     BIGINT NOT NULL DEFAULT 0,
    max_downloads BIGINT,
    deleted_at    BIGINT,
    PRIMARY KEY (share_id, position)
);
CREATE INDEX share_objects_by_key ON share_objects (object_key);
