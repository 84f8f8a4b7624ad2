//! Refusals on material built here: a chain 100 deep, an unknown critical extension, a CA flag
//! on a leaf, an SCT by a log the root does not know, a timestamp signed outside the root.

use std::str::FromStr as _;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use der::asn1::{BitString, ObjectIdentifier, OctetString, UtcTime};
use der::{Decode as _, Encode as _};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::certificate::{FulcioCertificate, OID_CODE_SIGNING, OID_SCT_LIST, Usage};
use super::trusted_root::TrustedRoot;
use super::{KeylessError, timestamp};

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const NOT_BEFORE: u64 = 1_700_000_000;
const NOT_AFTER: u64 = 1_800_000_000;
const SIGNING_TIME: i64 = 1_750_000_000;

fn key() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key")
}

fn spki(key: &EcdsaKeyPair) -> SubjectPublicKeyInfoOwned {
    // The DER prefix of a P-256 SubjectPublicKeyInfo, then the uncompressed point.
    let mut der = stella_core::hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200")
        .expect("hex");
    der.extend_from_slice(key.public_key().as_ref());
    SubjectPublicKeyInfoOwned::from_der(&der).expect("spki")
}

fn ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).expect("octets"),
    }
}

fn ca_extensions() -> Vec<Extension> {
    vec![
        ext(
            ObjectIdentifier::new_unwrap("2.5.29.19"),
            true,
            BasicConstraints {
                ca: true,
                path_len_constraint: None,
            }
            .to_der()
            .expect("bc"),
        ),
        ext(
            ObjectIdentifier::new_unwrap("2.5.29.15"),
            true,
            KeyUsage(KeyUsages::KeyCertSign.into())
                .to_der()
                .expect("ku"),
        ),
    ]
}

fn leaf_extensions() -> Vec<Extension> {
    vec![
        ext(
            ObjectIdentifier::new_unwrap("2.5.29.15"),
            true,
            KeyUsage(KeyUsages::DigitalSignature.into())
                .to_der()
                .expect("ku"),
        ),
        ext(
            ObjectIdentifier::new_unwrap("2.5.29.37"),
            false,
            ExtendedKeyUsage(vec![OID_CODE_SIGNING])
                .to_der()
                .expect("eku"),
        ),
    ]
}

/// A certificate for `subject_key` named `subject`, issued by `issuer` with `issuer_key`.
fn certificate(
    subject: &str,
    subject_key: &EcdsaKeyPair,
    issuer: &str,
    issuer_key: &EcdsaKeyPair,
    extensions: Vec<Extension>,
) -> Vec<u8> {
    let time =
        |s: u64| Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(s)).expect("time"));
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[1]).expect("serial"),
        signature: AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        },
        issuer: Name::from_str(&format!("CN={issuer}")).expect("name"),
        validity: Validity {
            not_before: time(NOT_BEFORE),
            not_after: time(NOT_AFTER),
        },
        subject: Name::from_str(&format!("CN={subject}")).expect("name"),
        subject_public_key_info: spki(subject_key),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature = issuer_key
        .sign(&SystemRandom::new(), &tbs.to_der().expect("tbs"))
        .expect("sign");
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(signature.as_ref()).expect("bits"),
    }
    .to_der()
    .expect("certificate")
}

fn parse(der: &[u8]) -> FulcioCertificate {
    FulcioCertificate::from_der(der, "test certificate").expect("parses")
}

/// A root and its key.
fn root() -> (Vec<u8>, EcdsaKeyPair) {
    let k = key();
    (certificate("root", &k, "root", &k, ca_extensions()), k)
}

#[test]
fn a_good_chain_verifies_and_a_chain_100_deep_is_refused() {
    let (root_der, root_key) = root();
    let leaf_key = key();
    let leaf = certificate("leaf", &leaf_key, "root", &root_key, leaf_extensions());
    parse(&leaf)
        .verify_path(&[parse(&root_der)], SIGNING_TIME, Usage::CodeSigning)
        .expect("verifies");

    // 99 intermediates between the leaf and the root.
    let mut chain = vec![parse(&root_der)];
    let mut issuer = ("root".to_owned(), root_key);
    for i in 0..99 {
        let k = key();
        let name = format!("ca{i}");
        chain.insert(
            0,
            parse(&certificate(
                &name,
                &k,
                &issuer.0,
                &issuer.1,
                ca_extensions(),
            )),
        );
        issuer = (name, k);
    }
    let leaf = parse(&certificate(
        "leaf",
        &leaf_key,
        &issuer.0,
        &issuer.1,
        leaf_extensions(),
    ));
    let err = leaf
        .verify_path(&chain, SIGNING_TIME, Usage::CodeSigning)
        .expect_err("too deep");
    assert!(
        err.to_string()
            .contains("101 certificates deep; paths longer than 9 are refused"),
        "{err}"
    );
    // A trusted root naming such a chain is refused when read.
    let b64 = |d: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(d)
    };
    let certs: Vec<_> = chain
        .iter()
        .map(|c| serde_json::json!({"rawBytes": b64(c.der())}))
        .collect();
    let doc = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "certificateAuthorities": [{"uri": "https://ca.example", "certChain": {"certificates": certs},
            "validFor": {"start": "2020-01-01T00:00:00Z"}}],
    });
    let err = TrustedRoot::from_json_value(&doc).expect_err("too deep");
    assert!(
        err.to_string()
            .contains("100 certificates; chains deeper than 8 are refused"),
        "{err}"
    );
}

#[test]
fn an_unknown_critical_extension_and_a_ca_leaf_are_refused() {
    let (root_der, root_key) = root();
    let leaf_key = key();
    let mut exts = leaf_extensions();
    exts.push(ext(
        ObjectIdentifier::new_unwrap("1.2.3.4.5"),
        true,
        vec![5, 0],
    ));
    let leaf = parse(&certificate("leaf", &leaf_key, "root", &root_key, exts));
    let err = leaf
        .verify_path(&[parse(&root_der)], SIGNING_TIME, Usage::CodeSigning)
        .expect_err("unknown critical extension");
    assert!(matches!(err, KeylessError::PathValidation { .. }));
    assert!(
        err.to_string()
            .contains("unknown critical extension 1.2.3.4.5"),
        "{err}"
    );

    let mut exts = leaf_extensions();
    exts.extend(ca_extensions().into_iter().take(1));
    let leaf = parse(&certificate("leaf", &leaf_key, "root", &root_key, exts));
    let err = leaf
        .verify_path(&[parse(&root_der)], SIGNING_TIME, Usage::CodeSigning)
        .expect_err("CA leaf");
    assert!(err.to_string().contains("marked as a CA"), "{err}");

    // Outside its validity: the times are named.
    let leaf = parse(&certificate(
        "leaf",
        &leaf_key,
        "root",
        &root_key,
        leaf_extensions(),
    ));
    let err = leaf
        .verify_path(&[parse(&root_der)], 1_900_000_000, Usage::CodeSigning)
        .expect_err("expired");
    assert!(
        err.to_string().contains(
            "not valid at the signing time 2030-03-17T17:46:40Z: validity \
             2023-11-14T22:13:20Z to 2027-01-15T08:00:00Z"
        ),
        "{err}"
    );
}

#[test]
fn an_sct_by_an_unknown_log_is_not_counted() {
    let (root_der, root_key) = root();
    let leaf_key = key();
    // One SCT (v1) by log id 0x11…, timestamp 0, no extensions, ECDSA-SHA256, a 2-byte signature.
    let mut sct = vec![0u8];
    sct.extend_from_slice(&[0x11; 32]);
    sct.extend_from_slice(&0u64.to_be_bytes());
    sct.extend_from_slice(&[0, 0, 4, 3, 0, 2, 0xAA, 0xBB]);
    let mut list = (sct.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&sct);
    let mut tls = (list.len() as u16).to_be_bytes().to_vec();
    tls.extend_from_slice(&list);
    let mut exts = leaf_extensions();
    exts.push(ext(
        OID_SCT_LIST,
        false,
        OctetString::new(tls)
            .expect("octets")
            .to_der()
            .expect("der"),
    ));
    let leaf = parse(&certificate("leaf", &leaf_key, "root", &root_key, exts));
    let err = leaf
        .verify_scts(&parse(&root_der), &[])
        .expect_err("unknown log");
    assert!(
        err.to_string().contains(
            "none of the 1 SCTs verifies with a CT log of the trusted root (SCT 0: by a CT log \
             the trusted root does not know (log id 1111"
        ),
        "{err}"
    );
    // And a certificate without SCTs is refused too.
    let bare = parse(&certificate(
        "leaf",
        &leaf_key,
        "root",
        &root_key,
        leaf_extensions(),
    ));
    let err = bare
        .verify_scts(&parse(&root_der), &[])
        .expect_err("no SCT");
    assert!(err.to_string().contains("no embedded SCT list"), "{err}");
}

/// A real token and the signature it covers, from a conformance suite bundle.
fn suite_token(case: &str) -> (Vec<u8>, Vec<u8>) {
    let path = format!(
        "{}/../../../shared/fixtures/sigstore-conformance/bundle-verify/{case}/bundle.sigstore.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("string"))
            .expect("base64")
    };
    let token = b64(
        &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"],
    );
    (token, b64(&bundle["messageSignature"]["signature"]))
}

#[test]
fn a_timestamp_signed_by_a_key_outside_the_root_is_refused() {
    // Real tokens, checked against a root whose only timestamp authority is another one.
    let (root_der, _) = root();
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&root_der)
    };
    let doc = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "timestampAuthorities": [{"uri": "https://tsa.example",
            "certChain": {"certificates": [{"rawBytes": encoded}]},
            "validFor": {"start": "2020-01-01T00:00:00Z"}}],
    });
    let root = TrustedRoot::from_json_value(&doc).expect("root");
    // Without an embedded certificate: no key of the root verifies it.
    let (token, signature) = suite_token("rekor2-timestamp-without-embedded-cert");
    let err = timestamp::verify_timestamp(&token, &signature, &root, 0).expect_err("outside");
    assert!(
        err.to_string().contains("signed by a TSA outside the root"),
        "{err}"
    );
    // With its own certificate embedded: that certificate does not chain to the root's TSA.
    let (embedded, embedded_signature) = suite_token("rekor2-timestamp-with-embedded-cert");
    let err =
        timestamp::verify_timestamp(&embedded, &embedded_signature, &root, 0).expect_err("outside");
    assert!(
        err.to_string().contains(
            "no timestamp authority of the trusted root vouches for its signer then: authority \
             0 (https://tsa.example)"
        ),
        "{err}"
    );
    // The same token for other bytes: its imprint is refused first.
    let err = timestamp::verify_timestamp(&token, b"other", &root, 0).expect_err("imprint");
    assert!(err.to_string().contains("messageImprint"), "{err}");
}
