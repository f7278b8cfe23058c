-- Accounts, repositories, collaborators, tokens and the refs of hosted repositories.
-- Names are unique by their lowercase `name_key`; ids are never reused (identity columns);
-- timestamps are unix seconds.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL,
    name_key      TEXT   NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE repos (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    private    BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL,
    UNIQUE (owner_id, name_key)
);

CREATE TABLE collaborators (
    repo_id BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT   NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (repo_id, user_id)
);
CREATE INDEX collaborators_by_user ON collaborators (user_id);

CREATE TABLE tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT   NOT NULL UNIQUE,
    label        TEXT   NOT NULL,
    scope        TEXT   NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    repo_id      BIGINT REFERENCES repos (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX tokens_by_user ON tokens (user_id);
CREATE INDEX tokens_by_repo ON tokens (repo_id);

CREATE TABLE refs (
    repo_id   BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    name      TEXT   NOT NULL,
    commit_id TEXT   NOT NULL,
    PRIMARY KEY (repo_id, name)
);
