-- Accounts, repositories, collaborators, tokens and the refs of hosted repositories.
-- Names are unique by their lowercase `name_key`; ids are never reused (AUTOINCREMENT);
-- timestamps are unix seconds.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE repos (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    private    INTEGER NOT NULL CHECK (private IN (0, 1)),
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, name_key)
) STRICT;

CREATE TABLE collaborators (
    repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT    NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (repo_id, user_id)
) STRICT;
CREATE INDEX collaborators_by_user ON collaborators (user_id);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    label        TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    repo_id      INTEGER REFERENCES repos (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX tokens_by_user ON tokens (user_id);
CREATE INDEX tokens_by_repo ON tokens (repo_id);

CREATE TABLE refs (
    repo_id   INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    name      TEXT    NOT NULL,
    commit_id TEXT    NOT NULL,
    PRIMARY KEY (repo_id, name)
) STRICT;
