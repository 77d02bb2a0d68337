-- sealdrop state, version 4: file requests. A link <broker>/r/<id>#<secret>
-- lets anyone who has it upload into <user>/inbox/<name>/; only the secret's
-- SHA-256 is kept. Every upload reserves its file and its bytes here before
-- anything is signed, in one conditional UPDATE (so replicas racing on the
-- last file cannot both win), and its object key, which is unique, so one
-- uploader never replaces another's file.
CREATE TABLE file_requests (
    id            TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    user_name     TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    note          TEXT,
    max_files     BIGINT NOT NULL,
    max_bytes     BIGINT NOT NULL,
    files         BIGINT NOT NULL DEFAULT 0,
    bytes         BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    closed_at     BIGINT
);
CREATE INDEX file_requests_by_user ON file_requests (user_name);
CREATE TABLE file_request_uploads (
    object_key  TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES file_requests (id) ON DELETE CASCADE,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX file_request_uploads_by_request ON file_request_uploads (request_id);
