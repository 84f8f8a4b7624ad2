-- Advisories as imported: the document itself (OSV JSON, RustSec Markdown or Stella's overlay),
-- and the rows that find it by id, alias, package and symbol. Portable SQL: the same file runs
-- on SQLite and PostgreSQL.
CREATE TABLE advisories (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    summary TEXT,
    document TEXT NOT NULL,
    document_sha256 TEXT NOT NULL
);

CREATE TABLE advisory_aliases (
    advisory_id TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    PRIMARY KEY (advisory_id, alias)
);
CREATE INDEX advisory_aliases_by_alias ON advisory_aliases (alias);

CREATE TABLE advisory_packages (
    advisory_id TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    purl TEXT,
    PRIMARY KEY (advisory_id, idx)
);
CREATE INDEX advisory_packages_by_name ON advisory_packages (ecosystem, name);

CREATE TABLE advisory_symbols (
    advisory_id TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    package_idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    versions TEXT NOT NULL,
    PRIMARY KEY (advisory_id, package_idx, path, name)
);
