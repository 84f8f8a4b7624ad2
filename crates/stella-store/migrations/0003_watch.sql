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
