-- The fleet: agents and the tokens that let them in, ingest batches (each counted once),
-- runtime observations aggregated per (image, BuildID, function, window, agent), the binaries
-- images hold, verdicts with their history in a per-image timeline. Portable SQL: the same file
-- runs on SQLite and PostgreSQL. Times are RFC 3339 UTC text (sorted as text), window starts
-- Unix seconds.
CREATE TABLE agents (
    name TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    registered TEXT NOT NULL,
    last_seen TEXT
);

-- Tokens are stored as the SHA-256 of their text, never the text itself. An ingest token
-- belongs to one agent, a read token to none.
CREATE TABLE tokens (
    sha256 TEXT PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('ingest', 'read')),
    agent TEXT REFERENCES agents (name) ON DELETE CASCADE,
    created TEXT NOT NULL,
    revoked TEXT,
    CHECK ((scope = 'ingest') = (agent IS NOT NULL))
);

-- One row per batch an agent pushed: a retried push finds its id here and is not counted again.
CREATE TABLE ingest_batches (
    batch_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL REFERENCES agents (name) ON DELETE CASCADE,
    body_sha256 TEXT NOT NULL,
    received TEXT NOT NULL,
    observations BIGINT NOT NULL
);

CREATE TABLE observations (
    image TEXT NOT NULL,
    build_id TEXT NOT NULL,
    function TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    agent TEXT NOT NULL,
    self_samples BIGINT NOT NULL,
    total_samples BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (image, build_id, function, window_start, agent)
);
CREATE INDEX observations_by_function ON observations (build_id, function);

CREATE TABLE images (
    digest TEXT PRIMARY KEY,
    reference TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);

CREATE TABLE image_binaries (
    image TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    build_id TEXT NOT NULL,
    path TEXT NOT NULL,
    funcproof TEXT,
    PRIMARY KEY (image, build_id, path)
);
CREATE INDEX image_binaries_by_build_id ON image_binaries (build_id);

CREATE TABLE verdicts (
    image TEXT NOT NULL,
    vulnerability TEXT NOT NULL,
    build_id TEXT NOT NULL,
    status TEXT NOT NULL,
    justification TEXT,
    evidence_sha256 TEXT NOT NULL,
    decided TEXT NOT NULL,
    PRIMARY KEY (image, vulnerability, build_id)
);

-- What happened to an image, in order of `at` then `id` (the SHA-256 of the entry's content,
-- so a replayed event is one entry).
CREATE TABLE timeline (
    image TEXT NOT NULL,
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    document TEXT,
    PRIMARY KEY (image, id)
);
CREATE INDEX timeline_by_time ON timeline (image, at);
