-- sealdrop state, version 2: multipart uploads in flight, as the broker
-- planned them. Part URLs are signed from this plan only (each part's exact
-- length, part numbers within the plan), on whichever replica is asked.
CREATE TABLE uploads (
    upload_id   TEXT PRIMARY KEY,
    object_key  TEXT NOT NULL,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    stored_size BIGINT NOT NULL,
    part_size   BIGINT NOT NULL,
    part_count  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX uploads_by_user ON uploads (user_name);
