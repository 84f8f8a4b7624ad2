-- What agents watch with uprobes (`stella agent --watch-findings`): the vulnerable functions
-- present in each image's binaries whose verdict execution could still change, as the last
-- assessment of `stella serve --store` found them. Replaced whole per image at each assessment.
CREATE TABLE watched (
    image TEXT NOT NULL,
    build_id TEXT NOT NULL,
    function TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    demangled TEXT,
    symbol TEXT NOT NULL,
    start_vaddr BIGINT NOT NULL,
    vulnerabilities TEXT NOT NULL,
    decided TEXT NOT NULL,
    PRIMARY KEY (image, build_id, function)
);

-- The components an image's verified SBOM names (CycloneDX), recorded with each assessment of
-- `stella serve --store`: which images hold a package, at which version, in which binary.
CREATE TABLE image_components (
    image TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    bom_ref TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT,
    purl TEXT,
    PRIMARY KEY (image, bom_ref)
);

CREATE INDEX image_components_purl ON image_components (purl);
