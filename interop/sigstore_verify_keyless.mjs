#!/usr/bin/env node
// Verify a keyless Sigstore bundle (v0.1-v0.3, a Fulcio certificate, message signature or DSSE)
// offline with npm `@sigstore/verify`, the verifier inside sigstore-js: the peer Stella's
// `verify-bundle` is checked against on the Sigstore conformance suite's cases.
//
// Usage: node sigstore_verify_keyless.mjs BUNDLE ARTIFACT TRUSTED_ROOT.json IDENTITY ISSUER [--repeat N]
// BUNDLE is parsed and validated by @sigstore/bundle's bundleFromJSON and verified by
// @sigstore/verify's Verifier against trust material built by its toTrustMaterial from
// TRUSTED_ROOT.json (a Sigstore trusted root v0.1), with the Verifier's default thresholds (one
// transparency-log entry, one SCT, one timestamp: an integrated time or an RFC 3161 token) and the
// policy {subjectAlternativeName: IDENTITY, extensions: {issuer: ISSUER}}. ARTIFACT's bytes are
// what a message signature must be over (toSignedEntity(bundle, artifact)); @sigstore/verify does
// not match a DSSE statement's subjects to an artifact, so for DSSE bundles ARTIFACT is not read
// against the statement.
// Prints {"verified": true, "identity", "issuer"} and exits 0, or {"verified": false, "error"}
// and exits 1. Exit 2 on bad usage (wrong arguments, unreadable files).
// --repeat N verifies the same bundle N more times in this process after the first (untimed)
// one (the trust material built once, the bundle parsed each time) and adds {"repeat": N,
// "seconds"} for those N: the benchmark's loop.
// @sigstore/verify 4.x declares Node >= 22 but runs on Node 20.
import { readFileSync } from 'node:fs';
import { bundleFromJSON, ValidationError } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const USAGE =
  'usage: node sigstore_verify_keyless.mjs BUNDLE ARTIFACT TRUSTED_ROOT.json IDENTITY ISSUER [--repeat N]';

function out(obj, code) {
  process.stdout.write(JSON.stringify(obj) + '\n');
  process.exit(code);
}

function usage(message) {
  process.stderr.write(`sigstore_verify_keyless: ${message}\n${USAGE}\n`);
  out({ verified: false, error: message }, 2);
}

function describe(e) {
  if (e instanceof ValidationError) {
    return `${e.message}: invalid fields ${JSON.stringify(e.fields)}`;
  }
  return e.code ? `${e.code}: ${e.message}` : `${e.name || 'Error'}: ${e.message}`;
}

const args = process.argv.slice(2);
let repeat = 1;
const repeatAt = args.indexOf('--repeat');
if (repeatAt !== -1) {
  repeat = Number.parseInt(args[repeatAt + 1], 10);
  if (!(repeat >= 1)) {
    usage('--repeat takes a positive integer');
  }
  args.splice(repeatAt, 2);
}
if (args.length !== 5) {
  usage('expected 5 arguments');
}
const [bundlePath, artifactPath, rootPath, identity, issuer] = args;
const read = (path, asText) => {
  try {
    return asText ? readFileSync(path, 'utf8') : readFileSync(path);
  } catch (e) {
    return usage(`${path}: ${e.message}`);
  }
};
const bundleText = read(bundlePath, true);
const artifact = read(artifactPath, false);
let rootJSON;
try {
  rootJSON = JSON.parse(read(rootPath, true));
} catch (e) {
  usage(`${rootPath}: ${e.message}`);
}

try {
  const trustMaterial = toTrustMaterial(TrustedRoot.fromJSON(rootJSON));
  const verifier = new Verifier(trustMaterial);
  const policy = { subjectAlternativeName: identity, extensions: { issuer } };
  const verify = () => {
    const bundle = bundleFromJSON(JSON.parse(bundleText));
    if (bundle.verificationMaterial.content.$case === 'publicKey') {
      throw new Error('the bundle is signed with a key, not a certificate');
    }
    return verifier.verify(toSignedEntity(bundle, artifact), policy);
  };
  let signer = verify();
  // With --repeat, the first verification above is untimed (a warm-up).
  const started = process.hrtime.bigint();
  for (let i = 0; repeatAt !== -1 && i < repeat; i++) {
    signer = verify();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = {
    verified: true,
    identity: signer.identity?.subjectAlternativeName,
    issuer: signer.identity?.extensions?.issuer,
  };
  if (repeatAt !== -1) {
    Object.assign(result, { repeat, seconds });
  }
  out(result, 0);
} catch (e) {
  out({ verified: false, error: describe(e) }, 1);
}
