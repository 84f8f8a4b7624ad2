#!/usr/bin/env node
// Canonicalise JSON documents with npm `canonicalize`, the peer Stella's JCS is compared with.
//
// Usage: node jcs_canonicalize.mjs FILE|-
//        node jcs_canonicalize.mjs --id FILE|-
//        node jcs_canonicalize.mjs --out-dir DIR FILE...
// The first form writes canonicalize(JSON.parse(FILE)) to stdout, without a trailing newline;
// --id prints the canonical id instead, `sha256:` + the hex SHA-256 of those bytes, and a newline.
// The --out-dir form writes each file's canonical form to DIR/<file name>: one runtime start for
// a whole corpus instead of one per document.
// Exit 2 if any document cannot be read or canonicalised (the others are still written).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import canonicalize from 'canonicalize';

const args = process.argv.slice(2);
let mode = 'canon';
let outDir = null;
let paths = args;
if (args.length >= 3 && args[0] === '--out-dir') {
  mode = 'out-dir';
  outDir = args[1];
  paths = args.slice(2);
} else if (args.length === 2 && args[0] === '--id') {
  mode = 'id';
  paths = args.slice(1);
} else if (args.length !== 1) {
  process.stderr.write('usage: node jcs_canonicalize.mjs [--id] FILE|- | --out-dir DIR FILE...\n');
  process.exit(2);
}

for (const path of paths) {
  let canon;
  try {
    const text = readFileSync(path === '-' ? 0 : path, 'utf8');
    // Bytes, not a JS string, so what is hashed or written is exactly the canonical UTF-8.
    canon = Buffer.from(canonicalize(JSON.parse(text)), 'utf8');
  } catch (e) {
    process.stderr.write(`jcs_canonicalize: ${path}: ${e.message}\n`);
    process.exitCode = 2;
    continue;
  }
  if (mode === 'id') {
    process.stdout.write(`sha256:${createHash('sha256').update(canon).digest('hex')}\n`);
  } else if (mode === 'out-dir') {
    writeFileSync(join(outDir, basename(path)), canon);
  } else {
    process.stdout.write(canon);
  }
}
