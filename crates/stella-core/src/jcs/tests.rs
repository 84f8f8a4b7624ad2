use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/jcs")
}

#[test]
fn rfc8785_vectors_match_byte_for_byte() {
    let dir = fixtures();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("input")).expect("fixtures/jcs/input is readable") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().expect("file name").to_owned();
        let input = std::fs::read(&path).expect("vector input");
        let expected = std::fs::read(dir.join("output").join(&name)).expect("vector output");
        let actual = canonicalize(&input).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&actual),
            String::from_utf8_lossy(&expected),
            "{name:?}"
        );
        seen += 1;
    }
    assert!(seen >= 6, "expected the six RFC 8785 vectors, found {seen}");
}

#[test]
fn es6_number_forms() {
    let cases: &[(&str, &str)] = &[
        ("0", "0"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("1.0", "1"),
        ("1e21", "1e+21"),
        ("1e20", "100000000000000000000"),
        ("123456789012345680000", "123456789012345680000"),
        ("0.000001", "0.000001"),
        ("0.0000001", "1e-7"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("9007199254740992", "9007199254740992"),
        ("-9007199254740992", "-9007199254740992"),
        ("9007199254740993.0", "9007199254740992"),
        ("333333333.33333329", "333333333.3333333"),
        // Zero with any exponent is zero; a non-zero literal that underflows is refused (below).
        ("0E-400", "0"),
    ];
    for (input, expected) in cases {
        let out = canonicalize(input.as_bytes()).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(String::from_utf8_lossy(&out), *expected, "{input}");
    }
}

#[test]
fn strings_escape_exactly_what_rfc8785_escapes() {
    let out =
        canonicalize(br#""\u0000\u0008\u0009\u000a\u000c\u000d\u001f\"\\\/\u007f\u2028\u00e9""#)
            .expect("valid");
    assert_eq!(
        out,
        "\"\\u0000\\b\\t\\n\\f\\r\\u001f\\\"\\\\/\u{7f}\u{2028}\u{e9}\"".as_bytes()
    );
}

#[test]
fn integers_beyond_two_to_the_53_are_rejected_with_their_pointer() {
    let err = canonicalize(br#"{"a": [1, {"big": 9007199254740993}]}"#).unwrap_err();
    assert!(
        matches!(err, JcsError::IntegerOutOfRange { ref literal, .. } if literal == "9007199254740993")
    );
    assert_eq!(err.pointer(), Some("/a/1/big"));
    let err = canonicalize(b"-123456789012345678901234567890").unwrap_err();
    assert!(matches!(err, JcsError::IntegerOutOfRange { .. }));
    assert!(err.to_string().contains("-1.2345678901234568e+29"), "{err}");
    // Exactly the canonical spelling of a double: nothing would be lost, and JCS writes it so.
    assert_eq!(
        canonicalize(b"[44445677135248100]").expect("kept"),
        b"[44445677135248100]"
    );
    assert!(canonicalize(b"[44445677135248101]").is_err());
}

#[test]
fn overflowing_numbers_and_non_json_literals_are_rejected() {
    assert!(matches!(
        canonicalize(b"[1e400]").unwrap_err(),
        JcsError::NumberOutOfRange { .. }
    ));
    for bad in [
        "NaN",
        "Infinity",
        "-Infinity",
        "[nan]",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "-",
    ] {
        let err = canonicalize(bad.as_bytes()).unwrap_err();
        assert!(matches!(err, JcsError::Syntax { .. }), "{bad}: {err}");
    }
}

#[test]
fn underflowing_numbers_are_rejected_like_overflowing_ones() {
    // `1e-400` is below the smallest subnormal double: read as 0, it would change the value as
    // silently as `1e400` becoming infinity. The error names the literal and where it starts.
    for (input, literal, offset) in [
        ("[1e-400]", "1e-400", 1),
        ("{\"a\": -2.5E-999}", "-2.5E-999", 6),
        ("[0, 0.0000001e-330]", "0.0000001e-330", 4),
    ] {
        match canonicalize(input.as_bytes()).unwrap_err() {
            JcsError::NumberUnderflow { at, literal: l } => {
                assert_eq!(l, literal, "{input}");
                assert_eq!(at.offset, Some(offset), "{input}");
            }
            other => panic!("{input}: {other}"),
        }
    }
    let err = canonicalize(b"{\"x\": [1e-400]}").unwrap_err();
    assert_eq!(err.pointer(), Some("/x/0"));
    assert!(err.to_string().contains("underflows"), "{err}");
    // Zero spelled any way is zero; the smallest subnormal and numbers that round to it are kept.
    assert_eq!(
        canonicalize(b"[0e-400, -0.0E+5, 0.000e-999, 5e-324, 3e-324]").expect("kept"),
        b"[0,0,0,5e-324,5e-324]"
    );
}

#[test]
fn duplicate_keys_point_at_the_second_occurrence() {
    let input = b"{\"x\": {\"k\": 1,\n \"k\": 2}}";
    let err = canonicalize(input).unwrap_err();
    let JcsError::DuplicateKey { at, key } = &err else {
        panic!("wrong error {err}");
    };
    assert_eq!(key, "k");
    assert_eq!(at.pointer, "/x/k");
    assert_eq!(at.offset, Some(16));
    assert_eq!((at.line, at.column), (Some(2), Some(2)));
    // Escaped spellings of the same name are the same name.
    let err = canonicalize(br#"{"a": 1, "\u0061": 2}"#).unwrap_err();
    assert!(matches!(err, JcsError::DuplicateKey { .. }));
}

#[test]
fn lone_surrogates_are_rejected_paired_ones_decoded() {
    for bad in [
        r#"["\ud800"]"#,
        r#"["\udc00"]"#,
        r#"["\ud800\u0041"]"#,
        r#"{"\ud83d": 1}"#,
    ] {
        let err = canonicalize(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(err, JcsError::LoneSurrogate { .. }),
            "{bad}: {err}"
        );
    }
    let err = canonicalize(br#"{"s": ["ok", "\udead"]}"#).unwrap_err();
    assert_eq!(err.pointer(), Some("/s/1"));
    assert_eq!(
        canonicalize(br#""\ud83d\ude00""#).expect("pair"),
        "\"\u{1f600}\"".as_bytes()
    );
}

#[test]
fn truncated_documents_name_the_end() {
    let err = canonicalize(br#"{"components": [{"name": "zlib""#).unwrap_err();
    let JcsError::Syntax { at, found, .. } = &err else {
        panic!("wrong error {err}");
    };
    assert_eq!(found, "end of input");
    assert_eq!(at.pointer, "/components/0");
    assert!(err.to_string().contains("expected ',' or '}'"), "{err}");
}

#[test]
fn invalid_utf8_bom_and_control_characters() {
    assert_eq!(
        canonicalize(b"[\"ab\xff\"]").unwrap_err(),
        JcsError::InvalidUtf8 { offset: 4 }
    );
    assert_eq!(
        canonicalize(b"\xef\xbb\xbf{}").unwrap_err(),
        JcsError::ByteOrderMark
    );
    assert!(matches!(
        canonicalize(b"[\"a\tb\"]").unwrap_err(),
        JcsError::Syntax { .. }
    ));
}

#[test]
fn depth_limit_is_exact_and_does_not_overflow_the_stack() {
    let limits = Limits {
        max_bytes: MAX_DOCUMENT_BYTES,
        max_depth: 64,
    };
    let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
    assert!(parse_with(ok.as_bytes(), limits).is_ok());
    let too_deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    assert!(matches!(
        parse_with(too_deep.as_bytes(), limits).unwrap_err(),
        JcsError::TooDeep { limit: 64, .. }
    ));
    // 100k levels under the default limit: an error, not a crash.
    let hostile = "[{\"a\":".repeat(100_000);
    let err = canonicalize(hostile.as_bytes()).unwrap_err();
    assert!(matches!(
        err,
        JcsError::TooDeep {
            limit: MAX_DEPTH,
            ..
        }
    ));
}

#[test]
fn size_limit_is_checked_before_reading() {
    let limits = Limits {
        max_bytes: 4,
        max_depth: MAX_DEPTH,
    };
    assert!(parse_with(b"1234", limits).is_ok());
    assert_eq!(
        parse_with(b"12345", limits).unwrap_err(),
        JcsError::TooLarge { size: 5, limit: 4 }
    );
}

#[test]
fn trailing_content_is_rejected() {
    let err = canonicalize(b"{} {}").unwrap_err();
    assert!(
        err.to_string()
            .contains("end of input after the top-level value"),
        "{err}"
    );
}

#[test]
fn pointer_segments_are_escaped() {
    let err = canonicalize(br#"{"a/b": {"m~n": 9007199254740993}}"#).unwrap_err();
    assert_eq!(err.pointer(), Some("/a~1b/m~0n"));
}

#[test]
fn serde_values_convert_and_refuse_big_integers() {
    let v = serde_json::json!({"b": [1, 2.5, "x"], "a": null});
    assert_eq!(
        to_canonical(&v).expect("ok"),
        br#"{"a":null,"b":[1,2.5,"x"]}"#
    );
    let big = serde_json::json!({"n": [u64::MAX]});
    let err = to_canonical(&big).unwrap_err();
    assert_eq!(err.pointer(), Some("/n/0"));
}

#[test]
fn object_edits_keep_canonical_order() {
    let mut v = parse(br#"{"b": 1, "a": 2}"#).expect("valid").into_owned();
    let o = v.as_object_mut().expect("object");
    o.insert("\u{10000}", Value::Null);
    o.insert("\u{ff61}", Value::Null);
    assert_eq!(o.remove("b"), Some(Value::Number(1.0)));
    assert_eq!(
        String::from_utf8_lossy(&v.to_canonical()),
        "{\"a\":2,\"\u{10000}\":null,\"\u{ff61}\":null}"
    );
}

fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
        any::<String>().prop_map(serde_json::Value::String),
    ]
}

fn json_tree() -> impl Strategy<Value = serde_json::Value> {
    json_leaf().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn utf16_order_matches_encode_utf16(a in any::<String>(), b in any::<String>()) {
        prop_assert_eq!(cmp_utf16(&a, &b), a.encode_utf16().cmp(b.encode_utf16()));
    }

    #[test]
    fn utf16_order_after_a_common_prefix(p in ".{0,40}", a in any::<String>(), b in any::<String>()) {
        let (a, b) = (format!("{p}{a}"), format!("{p}{b}"));
        prop_assert_eq!(cmp_utf16(&a, &b), a.encode_utf16().cmp(b.encode_utf16()));
    }

    #[test]
    fn agrees_with_serde_json_canonicalizer(doc in json_tree()) {
        let text = serde_json::to_string_pretty(&doc).expect("serialises");
        let ours = canonicalize(text.as_bytes()).expect("valid I-JSON");
        let oracle = serde_json_canonicalizer::to_vec(&doc).expect("oracle");
        prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&oracle));
        // Idempotent: the canonical form is its own canonical form.
        prop_assert_eq!(canonicalize(&ours).expect("canonical is valid"), ours);
    }
}

#[test]
fn streamed_canonical_hash_equals_hashing_the_canonical_bytes() {
    // The RFC vectors, and a document far past one hashing chunk whose members straddle chunk
    // ends, with escapes and non-ASCII in the strings.
    let dir = fixtures();
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir.join("input"))
        .expect("fixtures/jcs/input is readable")
        .map(|e| std::fs::read(e.expect("directory entry").path()).expect("vector input"))
        .collect();
    let items: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                r#"{{"n":{i},"s":"line\n{i} \u00e9\"q\"","z":[true,null,1.5e{}]}}"#,
                i % 30
            )
        })
        .collect();
    inputs.push(
        format!(
            r#"{{"b":[{}],"a":"{}"}}"#,
            items.join(","),
            "x".repeat(200_000)
        )
        .into_bytes(),
    );
    assert!(inputs.len() >= 7);
    for input in &inputs {
        let value = parse(input).expect("valid");
        assert_eq!(
            value.canonical_sha256(),
            crate::Digest::sha256(&value.to_canonical())
        );
    }
}

#[test]
fn excluding_members_equals_removing_them() {
    let text = br#"{"serialNumber": "x", "metadata": {"timestamp": "t", "a/b": 1, "k": [1, {"timestamp": 2}]}, "z": 3}"#;
    let v = parse(text).expect("valid");
    let mut removed = v.clone();
    let root = removed.as_object_mut().expect("object");
    root.remove("serialNumber");
    let meta = root
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("metadata");
    meta.remove("timestamp");
    meta.remove("a/b");
    assert_eq!(
        v.to_canonical_excluding(&[
            "/serialNumber",
            "/metadata/timestamp",
            "/metadata/a~1b",
            "/absent/x"
        ]),
        removed.to_canonical()
    );
    assert_eq!(
        v.to_canonical_excluding(&["/metadata/k/1"]),
        br#"{"metadata":{"a/b":1,"k":[1],"timestamp":"t"},"serialNumber":"x","z":3}"#
    );
    assert_eq!(v.to_canonical_excluding(&[]), v.to_canonical());
}

#[test]
fn the_deepest_accepted_document_survives_every_walk_on_a_small_stack() {
    // Test threads have 2 MiB stacks; the CLI's main thread has 8 MiB.
    let doc = format!(
        "{}1{}",
        "[{\"k\":".repeat(MAX_DEPTH / 2),
        "}]".repeat(MAX_DEPTH / 2)
    );
    let value = parse(doc.as_bytes()).expect("at the limit");
    let canonical = value.to_canonical();
    assert_eq!(canonical.len(), doc.len());
    let serde = value.to_serde();
    assert!(Value::from_serde(&serde).is_ok());
    assert_eq!(value.to_canonical_excluding(&["/0/k"]).len(), 4);
}
