#!/usr/bin/env node
// Verify a key-based Sigstore bundle (v0.3, DSSE envelope, no transparency-log entries) with npm
// `@sigstore/verify`, the verifier inside sigstore-js: the peer Stella's bundles are checked against.
//
// Usage: node sigstore_verify.mjs BUNDLE PUB.pem [TRUSTED_ROOT.json]
// BUNDLE is parsed and validated by @sigstore/bundle's bundleFromJSON and verified by
// @sigstore/verify's Verifier against trust material built by its toTrustMaterial from an empty
// trusted root (no CAs, transparency logs, CT logs or timestamp authorities) and a key finder that
// knows one key: PUB.pem (SPKI PEM, ECDSA P-256 or Ed25519), under its cosign hint,
// base64(SHA-256(DER SubjectPublicKeyInfo)). The bundle's verificationMaterial.publicKey.hint must
// equal that hint. The Verifier's tlog, CT-log and timestamp thresholds are set to 0 (each
// defaults to 1, which a bundle without log entries or timestamps cannot meet); everything else,
// the signature over the DSSE PAE included, is checked as sigstore-js checks it.
// With TRUSTED_ROOT.json (a Sigstore trusted root naming transparency logs), every tlog entry of
// the bundle is verified against it (body, checkpoint signature, inclusion proof) and the tlog
// threshold is the number of entries, so an entry that does not verify fails the bundle.
// Prints {"verified": true, "payloadType", "hint", "tlogEntries", "subjects": the in-toto
// statement's subject array} and exits 0, or {"verified": false, "error"} and exits 1. Exit 2 on bad usage (wrong
// arguments, unreadable files, PUB.pem not a public key).
// @sigstore/verify 4.x declares Node >= 22 but runs on Node 20.
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleFromJSON, ValidationError } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

function out(obj, code) {
  process.stdout.write(JSON.stringify(obj) + '\n');
  process.exit(code);
}

function usage(message) {
  process.stderr.write(`sigstore_verify: ${message}\nusage: node sigstore_verify.mjs BUNDLE PUB.pem [TRUSTED_ROOT.json]\n`);
  out({ verified: false, error: message }, 2);
}

function describe(e) {
  if (e instanceof ValidationError) {
    return `${e.message}: invalid fields ${JSON.stringify(e.fields)}`;
  }
  return e.code ? `${e.code}: ${e.message}` : `${e.name || 'Error'}: ${e.message}`;
}

const args = process.argv.slice(2);
if (args.length !== 2 && args.length !== 3) {
  usage('expected 2 or 3 arguments');
}
const [bundlePath, pubPath, rootPath] = args;
let rootJSON = {
  mediaType: TRUSTED_ROOT_MEDIA_TYPE,
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};
if (rootPath) {
  try {
    rootJSON = JSON.parse(readFileSync(rootPath, 'utf8'));
  } catch (e) {
    usage(`${rootPath}: ${e.message}`);
  }
}

let bundleText;
let publicKey;
try {
  bundleText = readFileSync(bundlePath, 'utf8');
} catch (e) {
  usage(`${bundlePath}: ${e.message}`);
}
try {
  publicKey = createPublicKey(readFileSync(pubPath, 'utf8'));
} catch (e) {
  usage(`${pubPath}: ${e.message}`);
}
const keyType = publicKey.asymmetricKeyType;
const curve = publicKey.asymmetricKeyDetails?.namedCurve;
if (!(keyType === 'ed25519' || (keyType === 'ec' && curve === 'prime256v1'))) {
  usage(`${pubPath}: ${keyType}${curve ? ` ${curve}` : ''} key, not ECDSA P-256 or Ed25519`);
}
const spki = publicKey.export({ format: 'der', type: 'spki' });
const keyHint = createHash('sha256').update(spki).digest('base64');

try {
  const bundle = bundleFromJSON(JSON.parse(bundleText));
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw new Error(`bundle content is ${bundle.content.$case}, not dsseEnvelope`);
  }
  if (bundle.verificationMaterial.content.$case !== 'publicKey') {
    throw new Error(
      `bundle verification material is ${bundle.verificationMaterial.content.$case}, not publicKey`,
    );
  }
  const trustedRoot = TrustedRoot.fromJSON(rootJSON);
  const tlogEntries = bundle.verificationMaterial.tlogEntries.length;
  const keyFinder = (hint) => {
    if (hint !== keyHint) {
      throw new Error(`no key for hint ${JSON.stringify(hint)} (the given key's hint is ${keyHint})`);
    }
    return { publicKey, validFor: () => true };
  };
  const verifier = new Verifier(toTrustMaterial(trustedRoot, keyFinder), {
    tlogThreshold: rootPath ? tlogEntries : 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  verifier.verify(toSignedEntity(bundle));

  const envelope = bundle.content.dsseEnvelope;
  let subjects = [];
  try {
    const statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8'));
    subjects = Array.isArray(statement?.subject) ? statement.subject : [];
  } catch {
    subjects = [];
  }
  out({ verified: true, payloadType: envelope.payloadType, hint: keyHint, tlogEntries, subjects }, 0);
} catch (e) {
  out({ verified: false, error: describe(e) }, 1);
}
