-- Commit signing keys that users register (for themselves and for their agents), the epoch that
-- changes with every key change (caches of verification results key on it), and the per-repository
-- list of branches that only take signed commits. Timestamps are unix seconds.

CREATE TABLE signing_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id      TEXT    NOT NULL UNIQUE,
    public_key  TEXT    NOT NULL,
    identities  TEXT    NOT NULL,
    models      TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX signing_keys_by_user ON signing_keys (user_id);

CREATE TABLE signing_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
) STRICT;
INSERT INTO signing_epoch (id, epoch) VALUES (1, 0);

CREATE TABLE signed_branches (
    repo_id  INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    pattern  TEXT    NOT NULL,
    PRIMARY KEY (repo_id, pattern)
) STRICT;
