-- sealdrop state, version 5: what uploads in flight hold, so that quotas can
-- count it and abandoned uploads can be cleaned up.
--
-- A multipart upload's last activity (its creation, then each batch of part
-- URLs signed): the broker aborts uploads idle longer than
-- upload_max_age_secs.
ALTER TABLE uploads ADD COLUMN touched_at BIGINT;
UPDATE uploads SET touched_at = created_at;
-- A single-request upload, while its presigned PUT can still be used: its
-- bytes count against the owner's quota until the object shows up in storage
-- or the URL expires.
CREATE TABLE single_uploads (
    id          TEXT PRIMARY KEY,
    object_key  TEXT NOT NULL,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    stored_size BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX single_uploads_by_user ON single_uploads (user_name);
-- When a file sent through a file request was seen stored; until then an
-- upload that never arrives gives its file and bytes back to the request.
ALTER TABLE file_request_uploads ADD COLUMN settled_at BIGINT;
-- Secrets of the whole deployment that every replica needs (the key of the
-- broker's object binding MAC), stored as an S3EC-style envelope: the data
-- key wrapped by the deployment's KMS key or local keyring, never in the
-- clear. The first replica to start writes it; the others read it.
CREATE TABLE deployment_keys (
    name       TEXT PRIMARY KEY,
    envelope   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
