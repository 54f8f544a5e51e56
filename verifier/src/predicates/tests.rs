//! Tests of the three entry kinds: round trips, every rejected shape, the SLSA view, and the
//! examples of `docs/formats.md`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::checks::is_rfc3339;
use super::revocation::parse_vkey;
use super::*;

/// A test vkey for the key with seed `[seed; 32]`.
fn vkey(name: &str, seed: u8) -> String {
    let public = SigningKey::from_bytes(&[seed; 32])
        .verifying_key()
        .to_bytes();
    let mut material = vec![0x01];
    material.extend_from_slice(&public);
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(&material);
    format!(
        "{name}+{}+{}",
        hex::encode(&h.finalize()[..4]),
        STANDARD.encode(&material)
    )
}

fn sha(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn release() -> ReleaseManifest {
    ReleaseManifest {
        subjects: vec![
            Artifact {
                name: "hello-1.0.tar.gz".into(),
                digest: Digests {
                    sha256: sha("tarball"),
                    blake3: Some([7; 32]),
                },
            },
            Artifact {
                name: "hello-1.0-x86_64".into(),
                digest: Digests::sha256(sha("binary")),
            },
        ],
        predicate: ReleasePredicate {
            third_party_import: None,
            project: "hello".into(),
            version: "1.0".into(),
            artifacts: BTreeMap::from([(
                "hello-1.0.tar.gz".into(),
                "https://example.com/hello-1.0.tar.gz".into(),
            )]),
            source: Source::Git {
                uri: "https://example.com/hello.git".into(),
                commit: "a".repeat(40),
            },
            recipe: Recipe {
                inputs: Vec::new(),
                build_deps: Vec::new(),
                unpinned_outputs: Default::default(),
                build_user: Default::default(),
                command: vec!["make".into(), "dist".into()],
                environment: Environment::Rootfs {
                    uri: None,
                    digest: Digests::sha256(sha("rootfs")),
                },
                source_date_epoch: Some(1_700_000_000),
                env: BTreeMap::from([("LC_ALL".into(), "C.UTF-8".into())]),
                outputs: BTreeMap::from([
                    ("dist/hello-1.0.tar.gz".into(), "hello-1.0.tar.gz".into()),
                    ("build/hello".into(), "hello-1.0-x86_64".into()),
                ]),
            },
        },
    }
}

fn rebuild(result: RebuildResult) -> RebuildAttestation {
    let published = release().subjects;
    let mut rebuilt = published.clone();
    let mut diff_report = None;
    match result {
        RebuildResult::Reproduced => {}
        RebuildResult::Mismatch => {
            rebuilt[1].digest = Digests::sha256(sha("other binary"));
            diff_report = Some(Digests::sha256(sha("diff")));
        }
        RebuildResult::BuildFailed | RebuildResult::InputsUnavailable => rebuilt.clear(),
    }
    RebuildAttestation {
        subjects: published,
        predicate: RebuildPredicate {
            release: ReleaseRef {
                log_index: 41,
                name: "hello".into(),
                version: "1.0".into(),
                digest: Digests::sha256(sha("entry")),
            },
            result,
            comparison: Comparison::BitIdentical,
            rebuilt,
            build_log: Some(Digests {
                sha256: sha("log"),
                blake3: Some([9; 32]),
            }),
            diff_report,
            sandbox: Sandbox {
                kind: SandboxKind::Bubblewrap,
                details: Some("bwrap 0.11.0".into()),
            },
            builder: Builder {
                id: "https://rebuilder.example.org".into(),
                version: "0.1.0".into(),
            },
            started_on: "2025-11-21T05:34:00Z".into(),
            finished_on: "2025-11-21T05:35:12.25+01:00".into(),
            invocation_id: Some("job-7".into()),
            detail: None,
            variations: vec![],
        },
    }
}

fn revocation(reason: RevocationReason) -> RevocationNotice {
    RevocationNotice {
        revoked_key: vkey("rebuilder.example.org", 1),
        reason,
        effective_index: Some(1000),
        replacement: Some(vkey("rebuilder.example.org", 2)),
        comment: Some("laptop stolen".into()),
    }
}

fn all_valid_entries() -> Vec<Entry> {
    let mut kinds = vec![EntryKind::Release(release())];
    for r in [
        RebuildResult::Reproduced,
        RebuildResult::Mismatch,
        RebuildResult::BuildFailed,
        RebuildResult::InputsUnavailable,
    ] {
        kinds.push(EntryKind::Rebuild(rebuild(r)));
    }
    for r in [
        RevocationReason::Compromised,
        RevocationReason::Retired,
        RevocationReason::Superseded,
    ] {
        kinds.push(EntryKind::Revocation(revocation(r)));
    }
    let mut minimal = revocation(RevocationReason::Retired);
    minimal.replacement = None;
    minimal.effective_index = None;
    minimal.comment = None;
    kinds.push(EntryKind::Revocation(minimal));
    kinds.into_iter().map(|k| Entry::new(k).unwrap()).collect()
}

#[test]
fn every_kind_round_trips() {
    for entry in all_valid_entries() {
        let bytes = entry.encode();
        let back = Entry::parse(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        assert_eq!(back, entry);
        assert_eq!(back.encode(), bytes, "encoding is deterministic");
        assert_eq!(entry.to_statement().encode().unwrap(), bytes);
    }
}

#[test]
fn json_field_names_are_stable() {
    let entry = Entry::new(EntryKind::Rebuild(rebuild(RebuildResult::Mismatch))).unwrap();
    let v: Value = serde_json::from_slice(&entry.encode()).unwrap();
    let p = &v["predicate"];
    for key in [
        "release",
        "result",
        "comparison",
        "rebuilt",
        "build_log",
        "diff_report",
        "sandbox",
        "builder",
        "started_on",
        "finished_on",
        "invocation_id",
    ] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
    assert_eq!(p["result"], "mismatch");
    assert_eq!(p["comparison"], "bit-identical");
    assert_eq!(p["sandbox"]["kind"], "bubblewrap");
    assert_eq!(p["release"]["log_index"], 41);
    assert_eq!(v["predicateType"], REBUILD_PREDICATE_TYPE);
    assert_eq!(v["subject"][0]["digest"]["blake3"], hex::encode([7u8; 32]));

    let entry = Entry::new(EntryKind::Release(release())).unwrap();
    let v: Value = serde_json::from_slice(&entry.encode()).unwrap();
    let r = &v["predicate"]["recipe"];
    assert_eq!(r["environment"]["toolchain"], "rootfs");
    assert_eq!(r["source_date_epoch"], 1_700_000_000u64);
    assert_eq!(v["predicate"]["source"]["kind"], "git");
    for (result, s) in [
        (RebuildResult::BuildFailed, "build-failed"),
        (RebuildResult::InputsUnavailable, "inputs-unavailable"),
    ] {
        assert_eq!(serde_json::to_value(result).unwrap(), s);
        assert_eq!(result.to_string(), s);
    }
}

#[test]
fn known_vkey_vector_is_accepted() {
    let k = parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
        .unwrap();
    assert_eq!(k.name(), "example.com/foo");
    assert!(
        parse_vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_ok()
    );
}

#[test]
fn malformed_vkeys_are_rejected() {
    let good = vkey("a.example", 1);
    let (name, rest) = good.split_once('+').unwrap();
    let (id, key) = rest.split_once('+').unwrap();
    let cosig_material = {
        let mut m = STANDARD.decode(key).unwrap();
        m[0] = 0x04;
        STANDARD.encode(m)
    };
    let cases = [
        ("no-plus".to_owned(), VkeyProblem::Shape),
        (format!("{name}+{id}"), VkeyProblem::Shape),
        (format!("+{id}+{key}"), VkeyProblem::Name),
        (format!("a b+{id}+{key}"), VkeyProblem::Name),
        (format!("{name}+ABCDEF12+{key}"), VkeyProblem::KeyIdFormat),
        (
            format!("{name}+{}+{key}", &id[..7]),
            VkeyProblem::KeyIdFormat,
        ),
        (format!("{name}+{id}+*{}", &key[1..]), VkeyProblem::Base64),
        (format!("{name}+{id}+{key}="), VkeyProblem::Base64),
        (format!("{name}+{id}+{key} "), VkeyProblem::Base64),
        (
            format!("{name}+{id}+{}", STANDARD.encode([1u8; 32])),
            VkeyProblem::Length { len: 32 },
        ),
        (
            format!("{name}+{id}+{cosig_material}"),
            VkeyProblem::KeyType { byte: 4 },
        ),
        (format!("b.example+{id}+{key}"), VkeyProblem::KeyIdMismatch),
    ];
    for (s, want) in cases {
        let got = parse_vkey(&s).err();
        assert_eq!(got, Some(want.clone()), "{s}");
    }
    // About half of all 32-byte strings are not Ed25519 points; take the first such y.
    let not_a_point = (0u8..=255)
        .map(|y| [y; 32])
        .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
        .unwrap();
    let mut material = vec![1u8];
    material.extend_from_slice(&not_a_point);
    let id = hex::encode(&Sha256::digest([name.as_bytes(), b"\n", &material].concat())[..4]);
    assert_eq!(
        parse_vkey(&format!("{name}+{id}+{}", STANDARD.encode(&material))).err(),
        Some(VkeyProblem::NotAPoint)
    );
}

/// Mutates the valid encoding of `entry` at a JSON pointer and checks it is refused with an
/// error for which `want` holds.
fn assert_rejected(
    entry: &Entry,
    pointer: &str,
    new: Option<Value>,
    want: impl Fn(&PredicateError) -> bool,
) {
    let mut v: Value = serde_json::from_slice(&entry.encode()).unwrap();
    match new {
        Some(new) => {
            if let Some(slot) = v.pointer_mut(pointer) {
                *slot = new;
            } else {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                match v.pointer_mut(parent).unwrap() {
                    Value::Object(m) => {
                        m.insert(key.replace("~1", "/").replace("~0", "~"), new);
                    }
                    Value::Array(a) => a.push(new),
                    _ => panic!("{pointer}"),
                }
            }
        }
        None => {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let parent = v.pointer_mut(parent).unwrap();
            match parent {
                Value::Object(m) => assert!(
                    m.remove(&key.replace("~1", "/").replace("~0", "~"))
                        .is_some(),
                    "{pointer} absent"
                ),
                Value::Array(a) => {
                    a.remove(key.parse().unwrap());
                }
                _ => panic!("{pointer}"),
            }
        }
    }
    match Entry::parse(&serde_json::to_vec(&v).unwrap()) {
        Ok(_) => panic!("accepted after changing {pointer}"),
        Err(e) => assert!(want(&e), "{pointer}: unexpected error {e:?}"),
    }
}

fn shape(e: &PredicateError) -> bool {
    matches!(e, PredicateError::Shape { .. })
}

fn text(e: &PredicateError) -> bool {
    matches!(e, PredicateError::InvalidText { .. })
}

#[test]
fn malformed_release_manifests_are_rejected() {
    let e = Entry::new(EntryKind::Release(release())).unwrap();
    let j = |v: Value| Some(v);
    assert_rejected(&e, "/predicate/project", None, shape);
    assert_rejected(&e, "/predicate/project", j(json!("")), text);
    assert_rejected(&e, "/predicate/project", j(json!("hel lo")), text);
    assert_rejected(&e, "/predicate/version", j(json!("")), text);
    assert_rejected(&e, "/predicate/version", None, shape);
    assert_rejected(&e, "/predicate/extra", j(json!(1)), shape);
    assert_rejected(&e, "/predicate/source", None, shape);
    assert_rejected(&e, "/predicate/source/kind", j(json!("svn")), shape);
    assert_rejected(
        &e,
        "/predicate/source/commit",
        j(json!("A".repeat(40))),
        |e| matches!(e, PredicateError::InvalidGitCommit { .. }),
    );
    assert_rejected(
        &e,
        "/predicate/source/commit",
        j(json!("a".repeat(41))),
        |e| matches!(e, PredicateError::InvalidGitCommit { .. }),
    );
    assert_rejected(&e, "/predicate/source/uri", j(json!("")), text);
    assert_rejected(
        &e,
        "/predicate/source",
        j(json!({"kind": "archive", "uri": "x"})),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/source",
        j(json!({"kind": "archive", "uri": "x", "digest": {"sha256": "00"}})),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/source",
        j(
            json!({"kind": "archive", "uri": "x", "digest": {"sha256": "0".repeat(64), "md5": "00"}}),
        ),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/artifacts/unknown.tar",
        j(json!("https://x")),
        |e| matches!(e, PredicateError::UrlForUnknownArtifact { .. }),
    );
    assert_rejected(
        &e,
        "/predicate/artifacts/hello-1.0.tar.gz",
        j(json!("has space")),
        text,
    );
    assert_rejected(&e, "/predicate/recipe/command", j(json!([])), |e| {
        matches!(e, PredicateError::EmptyCommand)
    });
    assert_rejected(&e, "/predicate/recipe/command", j(json!([""])), |e| {
        matches!(e, PredicateError::EmptyCommand)
    });
    assert_rejected(
        &e,
        "/predicate/recipe/command",
        j(json!(["make", "a\u{0}b"])),
        text,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/command",
        j(json!("make dist")),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/source_date_epoch",
        j(json!(-1)),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/source_date_epoch",
        j(json!("1700000000")),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/source_date_epoch",
        j(json!(1.5)),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/environment/toolchain",
        j(json!("docker")),
        shape,
    );
    assert_rejected(&e, "/predicate/recipe/environment/digest", None, shape);
    assert_rejected(
        &e,
        "/predicate/recipe/environment/uri",
        j(json!("a b")),
        text,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/env/SOURCE_DATE_EPOCH",
        j(json!("1")),
        |e| matches!(e, PredicateError::ReservedEnvName { .. }),
    );
    assert_rejected(&e, "/predicate/recipe/env/1X", j(json!("1")), |e| {
        matches!(e, PredicateError::InvalidEnvName { .. })
    });
    assert_rejected(&e, "/predicate/recipe/env/A=B", j(json!("1")), |e| {
        matches!(e, PredicateError::InvalidEnvName { .. })
    });
    assert_rejected(&e, "/predicate/recipe/env/A", j(json!("nul\u{0}")), text);
    assert_rejected(&e, "/predicate/recipe/outputs", j(json!({})), |e| {
        matches!(e, PredicateError::ArtifactWithoutOutput { .. })
    });
    assert_rejected(&e, "/predicate/recipe/outputs/build~1hello", None, |e| {
        matches!(e, PredicateError::ArtifactWithoutOutput { .. })
    });
    assert_rejected(
        &e,
        "/predicate/recipe/outputs/other",
        j(json!("unknown")),
        |e| matches!(e, PredicateError::OutputForUnknownArtifact { .. }),
    );
    assert_rejected(
        &e,
        "/predicate/recipe/outputs/copy",
        j(json!("hello-1.0-x86_64")),
        |e| matches!(e, PredicateError::Duplicate { .. }),
    );
    for path in [
        "../evil",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "./a",
        "a/.",
        "",
        "a\\b",
        "dir/",
        "a/\nb",
    ] {
        assert_rejected(
            &e,
            &format!(
                "/predicate/recipe/outputs/{}",
                path.replace('~', "~0").replace('/', "~1")
            ),
            j(json!("hello-1.0-x86_64")),
            |e| matches!(e, PredicateError::UnsafeOutputPath { .. }),
        );
    }
    check_subject_rules(&e);
}

/// Subject rules shared by releases and rebuilds.
fn check_subject_rules(e: &Entry) {
    let j = |v: Value| Some(v);
    assert_rejected(e, "/subject", j(json!([])), |e| {
        matches!(e, PredicateError::Statement(StatementError::NoSubjects))
    });
    assert_rejected(e, "/subject/0/digest/sha256", None, |e| {
        matches!(e, PredicateError::SubjectWithoutSha256 { index: 0 })
    });
    assert_rejected(e, "/subject/0/digest/blake3", j(json!("ABC")), |e| {
        matches!(e, PredicateError::MalformedBlake3 { index: 0 })
    });
    assert_rejected(e, "/subject/0/name", None, text);
    assert_rejected(e, "/subject/0/name", j(json!("two words")), text);
    assert_rejected(
        e,
        "/subject/0/name",
        j(json!("x".repeat(MAX_IDENT_BYTES + 1))),
        text,
    );
    let first = {
        let v: Value = serde_json::from_slice(&e.encode()).unwrap();
        v["subject"][0].clone()
    };
    assert_rejected(e, "/subject/1", j(first), |e| {
        matches!(e, PredicateError::Duplicate { .. })
    });
}

#[test]
fn unknown_digest_algorithms_in_subjects_are_ignored() {
    let e = Entry::new(EntryKind::Release(release())).unwrap();
    let mut v: Value = serde_json::from_slice(&e.encode()).unwrap();
    v["subject"][0]["digest"]["sha512"] = json!("00");
    v["subject"][0]["uri"] = json!("https://example.com/x");
    v["unknown_top_level"] = json!(true);
    assert_eq!(Entry::parse(&serde_json::to_vec(&v).unwrap()).unwrap(), e);
}

#[test]
fn malformed_rebuild_attestations_are_rejected() {
    let e = Entry::new(EntryKind::Rebuild(rebuild(RebuildResult::Reproduced))).unwrap();
    let j = |v: Value| Some(v);
    let other = Digests::sha256(sha("other"));
    assert_rejected(&e, "/predicate/result", j(json!("reproduced-ish")), shape);
    assert_rejected(&e, "/predicate/result", j(json!("build_failed")), shape);
    assert_rejected(&e, "/predicate/comparison", j(json!("fuzzy")), shape);
    assert_rejected(&e, "/predicate/comparison", None, shape);
    assert_rejected(&e, "/predicate/release/log_index", j(json!(-1)), shape);
    assert_rejected(&e, "/predicate/release/digest", j(json!("00")), shape);
    assert_rejected(&e, "/predicate/release/name", j(json!("")), text);
    assert_rejected(&e, "/predicate/release/version", None, shape);
    assert_rejected(&e, "/predicate/rebuilt/1/digest", j(json!(other)), |e| {
        matches!(e, PredicateError::NotReproduced { .. })
    });
    assert_rejected(&e, "/predicate/rebuilt/1", None, |e| {
        matches!(e, PredicateError::NotReproduced { .. })
    });
    assert_rejected(
        &e,
        "/predicate/rebuilt/0/digest/blake3",
        j(json!(hex::encode([8u8; 32]))),
        |e| matches!(e, PredicateError::NotReproduced { .. }),
    );
    assert_rejected(&e, "/predicate/rebuilt/0/name", j(json!("unknown")), |e| {
        matches!(e, PredicateError::RebuiltUnknownArtifact { .. })
    });
    assert_rejected(
        &e,
        "/predicate/rebuilt/1/name",
        j(json!("hello-1.0.tar.gz")),
        |e| matches!(e, PredicateError::Duplicate { .. }),
    );
    assert_rejected(&e, "/predicate/diff_report", j(json!(other)), |e| {
        matches!(e, PredicateError::UnexpectedDiffReport { .. })
    });
    assert_rejected(&e, "/predicate/sandbox/kind", j(json!("docker")), shape);
    assert_rejected(&e, "/predicate/sandbox/details", j(json!("")), text);
    assert_rejected(
        &e,
        "/predicate/sandbox/details",
        j(json!("bell\u{7}")),
        text,
    );
    assert_rejected(&e, "/predicate/builder/id", j(json!("")), text);
    assert_rejected(&e, "/predicate/builder/id", j(json!("a b")), text);
    assert_rejected(&e, "/predicate/builder/version", None, shape);
    assert_rejected(&e, "/predicate/invocation_id", j(json!("job 7")), text);
    assert_rejected(
        &e,
        "/predicate/detail",
        j(json!("x".repeat(MAX_TEXT_BYTES + 1))),
        text,
    );
    assert_rejected(
        &e,
        "/predicate/variations",
        j(json!(["time", "time"])),
        |e| matches!(e, PredicateError::Duplicate { .. }),
    );
    assert_rejected(&e, "/predicate/variations", j(json!(["Build Path"])), |e| {
        matches!(e, PredicateError::InvalidVariation { .. })
    });
    assert_rejected(&e, "/predicate/variations", j(json!([""])), |e| {
        matches!(e, PredicateError::InvalidVariation { .. })
    });
    assert_rejected(&e, "/predicate/extra", j(json!(null)), shape);
    for bad in [
        "2025-11-21 05:34:00Z",
        "2025-11-21t05:34:00z",
        "2025-11-21T05:34:00",
        "2025-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "2025-11-21T24:00:00Z",
        "2025-11-21T05:60:00Z",
        "2025-11-21T05:34:61Z",
        "2025-11-21T05:34:00.Z",
        "2025-11-21T05:34:00.1234567890Z",
        "2025-11-21T05:34:00+0100",
        "2025-11-21T05:34:00+24:00",
        "2025-11-21T05:34:00Z ",
        "25-11-21T05:34:00Z",
        "2025-11-21T05:34:00ZZ",
        "",
    ] {
        assert_rejected(&e, "/predicate/started_on", j(json!(bad)), |e| {
            matches!(e, PredicateError::InvalidTimestamp { .. })
        });
    }
    for good in [
        "2024-02-29T23:59:60Z",
        "2025-11-21T05:34:00.123456789-07:30",
        "0000-01-01T00:00:00+00:00",
    ] {
        assert!(is_rfc3339(good), "{good}");
    }
    check_subject_rules(&e);

    let m = Entry::new(EntryKind::Rebuild(rebuild(RebuildResult::Mismatch))).unwrap();
    assert_rejected(&m, "/predicate/diff_report", None, |e| {
        matches!(e, PredicateError::MissingDiffReport)
    });
    let same = json!(release().subjects[1].digest);
    assert_rejected(&m, "/predicate/rebuilt/1/digest", j(same), |e| {
        matches!(e, PredicateError::NoDifference)
    });

    let f = Entry::new(EntryKind::Rebuild(rebuild(RebuildResult::BuildFailed))).unwrap();
    assert_rejected(
        &f,
        "/predicate/rebuilt",
        j(json!(release().subjects)),
        |e| matches!(e, PredicateError::RebuiltWithoutBuild { .. }),
    );
    assert_rejected(&f, "/predicate/diff_report", j(json!(other)), |e| {
        matches!(e, PredicateError::UnexpectedDiffReport { .. })
    });
    let u = Entry::new(EntryKind::Rebuild(rebuild(
        RebuildResult::InputsUnavailable,
    )))
    .unwrap();
    assert_rejected(
        &u,
        "/predicate/rebuilt",
        j(json!([release().subjects[0]])),
        |e| matches!(e, PredicateError::RebuiltWithoutBuild { .. }),
    );
}

#[test]
fn a_mismatch_may_be_a_missing_output() {
    let mut r = rebuild(RebuildResult::Mismatch);
    r.predicate.rebuilt = vec![r.subjects[0].clone()];
    Entry::new(EntryKind::Rebuild(r)).unwrap();
}

#[test]
fn malformed_revocation_notices_are_rejected() {
    let e = Entry::new(EntryKind::Revocation(revocation(
        RevocationReason::Superseded,
    )))
    .unwrap();
    let j = |v: Value| Some(v);
    let vk = |field: &'static str| move |e: &PredicateError| matches!(e, PredicateError::InvalidVkey { field: f, .. } if *f == field);
    assert_rejected(&e, "/predicate/reason", j(json!("lost")), shape);
    assert_rejected(&e, "/predicate/replacement", None, |e| {
        matches!(e, PredicateError::SupersededWithoutReplacement)
    });
    assert_rejected(
        &e,
        "/predicate/replacement",
        j(json!(vkey("other.name", 1))),
        |e| matches!(e, PredicateError::ReplacementIsRevokedKey),
    );
    assert_rejected(
        &e,
        "/predicate/replacement",
        j(json!("nope")),
        vk("replacement"),
    );
    assert_rejected(&e, "/predicate/effective_index", j(json!(-5)), shape);
    assert_rejected(&e, "/predicate/effective_index", j(json!("5")), shape);
    assert_rejected(&e, "/predicate/comment", j(json!("")), text);
    assert_rejected(&e, "/predicate/extra", j(json!(1)), shape);
    // Changing the key breaks the subject binding; a broken key is reported as such.
    assert_rejected(
        &e,
        "/predicate/revoked_key",
        j(json!(vkey("rebuilder.example.org", 3))),
        |e| matches!(e, PredicateError::RevocationSubject { .. }),
    );
    assert_rejected(
        &e,
        "/predicate/revoked_key",
        j(json!("rebuilder.example.org+00000000+AAAA")),
        vk("revoked_key"),
    );
    assert_rejected(&e, "/predicate/revoked_key", None, shape);
    assert_rejected(&e, "/subject/0/name", j(json!("someone.else")), |e| {
        matches!(e, PredicateError::RevocationSubject { .. })
    });
    assert_rejected(
        &e,
        "/subject/0/digest/sha256",
        j(json!(hex::encode(sha("x")))),
        |e| matches!(e, PredicateError::RevocationSubject { .. }),
    );
    assert_rejected(
        &e,
        "/subject/0/digest/blake3",
        j(json!(hex::encode(sha("x")))),
        |e| matches!(e, PredicateError::RevocationSubject { .. }),
    );
    let first = serde_json::from_slice::<Value>(&e.encode()).unwrap()["subject"][0].clone();
    assert_rejected(&e, "/subject/1", j(first), |e| {
        matches!(e, PredicateError::RevocationSubject { .. })
    });
}

#[test]
fn revocation_subject_is_the_key_digest() {
    let n = revocation(RevocationReason::Compromised);
    let s = n.subject().unwrap();
    assert_eq!(s.name, "rebuilder.example.org");
    let mut material = vec![1u8];
    material.extend_from_slice(&SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
    assert_eq!(s.digest, Digests::sha256(Sha256::digest(&material).into()));
}

#[test]
fn unknown_predicate_types_are_rejected_clearly() {
    let st = Statement::new(
        vec![Subject {
            name: "a".into(),
            digest: DigestSet::from_sha256(&[1; 32]),
        }],
        "https://slsa.dev/provenance/v1",
        json!({}),
    )
    .unwrap();
    let err = Entry::from_statement(st).unwrap_err();
    assert!(
        matches!(&err, PredicateError::UnknownPredicateType { predicate_type } if predicate_type == "https://slsa.dev/provenance/v1")
    );
    assert!(err.to_string().contains(RELEASE_PREDICATE_TYPE), "{err}");
    assert!(matches!(
        Entry::parse(b"{}"),
        Err(PredicateError::Statement(_))
    ));
}

#[test]
fn slsa_provenance_has_the_v1_shape() {
    let mut a = rebuild(RebuildResult::Mismatch);
    a.predicate.variations = vec!["time".into(), "build_path".into()];
    let st = a.to_slsa_statement().unwrap();
    assert_eq!(st.predicate_type(), SLSA_PROVENANCE_V1_TYPE);
    let subject_digests: Vec<_> = st
        .subjects()
        .iter()
        .map(|s| s.digest.sha256().unwrap())
        .collect();
    assert_eq!(
        subject_digests,
        a.predicate
            .rebuilt
            .iter()
            .map(|r| r.digest.sha256)
            .collect::<Vec<_>>()
    );
    let p = st.predicate();
    let bd = &p["buildDefinition"];
    assert_eq!(bd["buildType"], REBUILD_BUILD_TYPE);
    assert_eq!(bd["externalParameters"]["release"]["log_index"], 41);
    assert_eq!(
        bd["externalParameters"]["release"]["digest"]["sha256"],
        hex::encode(sha("entry"))
    );
    assert_eq!(bd["internalParameters"]["sandbox"]["kind"], "bubblewrap");
    assert_eq!(
        bd["internalParameters"]["variations"],
        json!(["time", "build_path"])
    );
    let deps = bd["resolvedDependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0]["digest"]["sha256"], hex::encode(sha("entry")));
    assert_eq!(deps[0]["name"], "hello@1.0");
    let rd = &p["runDetails"];
    assert_eq!(rd["builder"]["id"], "https://rebuilder.example.org");
    assert_eq!(rd["builder"]["version"]["reprove"], "0.1.0");
    assert_eq!(
        rd["metadata"],
        json!({"invocationId": "job-7", "startedOn": "2025-11-21T05:34:00Z", "finishedOn": "2025-11-21T05:35:12.25+01:00"})
    );
    let byproducts: Vec<_> = rd["byproducts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(byproducts, ["build-log", "diff-report"]);
    assert!(p.get("result").is_none() && bd.get("result").is_none());
    let top: Vec<_> = p.as_object().unwrap().keys().cloned().collect();
    assert_eq!(top, ["buildDefinition", "runDetails"]);
    // It is a statement we can emit and read back.
    assert_eq!(Statement::parse(&st.encode().unwrap()).unwrap(), st);

    assert!(
        rebuild(RebuildResult::BuildFailed)
            .to_slsa_statement()
            .is_none()
    );
    let mut quiet = rebuild(RebuildResult::Reproduced);
    quiet.predicate.build_log = None;
    quiet.predicate.invocation_id = None;
    let p = quiet.predicate.to_slsa_provenance_v1();
    assert!(p["runDetails"].get("byproducts").is_none());
    assert!(p["runDetails"]["metadata"].get("invocationId").is_none());
    assert!(
        p["buildDefinition"]["internalParameters"]
            .get("variations")
            .is_none()
    );
}

#[test]
fn null_optional_fields_mean_unset() {
    let e = Entry::new(EntryKind::Rebuild(rebuild(RebuildResult::BuildFailed))).unwrap();
    let mut v: Value = serde_json::from_slice(&e.encode()).unwrap();
    for key in ["rebuilt", "variations", "diff_report", "detail"] {
        v["predicate"][key] = Value::Null;
    }
    assert_eq!(Entry::parse(&serde_json::to_vec(&v).unwrap()).unwrap(), e);
    let r = Entry::new(EntryKind::Release(release())).unwrap();
    let mut v: Value = serde_json::from_slice(&r.encode()).unwrap();
    v["predicate"]["artifacts"] = Value::Null;
    v["predicate"]["recipe"]["env"] = Value::Null;
    let EntryKind::Release(parsed) = Entry::parse(&serde_json::to_vec(&v).unwrap())
        .unwrap()
        .into_kind()
    else {
        panic!("not a release");
    };
    assert!(parsed.predicate.artifacts.is_empty() && parsed.predicate.recipe.env.is_empty());
}

#[test]
fn tagged_enums_refuse_unknown_fields() {
    let e = Entry::new(EntryKind::Release(release())).unwrap();
    let j = |v: Value| Some(v);
    assert_rejected(&e, "/predicate/source/branch", j(json!("main")), shape);
    assert_rejected(
        &e,
        "/predicate/source/digest",
        j(json!(Digests::sha256([1; 32]))),
        shape,
    );
    assert_rejected(
        &e,
        "/predicate/recipe/environment",
        j(json!({"toolchain": "host", "path": "/usr"})),
        shape,
    );
    assert_rejected(&e, "/predicate/recipe/environment", j(json!({})), shape);
    let mut host = release();
    host.predicate.recipe.environment = Environment::Host {};
    host.predicate.source = Source::Archive {
        uri: "hello-1.0.tar.gz".into(),
        digest: Digests::sha256([2; 32]),
    };
    let host = Entry::new(EntryKind::Release(host)).unwrap();
    let v: Value = serde_json::from_slice(&host.encode()).unwrap();
    assert_eq!(
        v["predicate"]["recipe"]["environment"],
        json!({"toolchain": "host"})
    );
    assert_eq!(v["predicate"]["source"]["kind"], "archive");
    assert_eq!(Entry::parse(&host.encode()).unwrap(), host);
}

/// The examples of `docs/formats.md`, built here so a test can keep the document current.
mod doc_examples {
    use super::*;
    use crate::dsse::Envelope;

    /// The documented TEST signing key (seed 32 bytes of 0x42). Never trust it.
    pub(super) fn test_key() -> SigningKey {
        SigningKey::from_bytes(&[0x42; 32])
    }

    pub(super) fn release() -> Entry {
        let tarball = Artifact {
            name: "hello-1.2.0.tar.gz".into(),
            digest: Digests {
                sha256: sha("hello-1.2.0.tar.gz"),
                blake3: Some(sha("blake3 of hello-1.2.0.tar.gz")),
            },
        };
        let binary = Artifact {
            name: "hello-1.2.0-linux-x86_64".into(),
            digest: Digests::sha256(sha("hello binary")),
        };
        Entry::new(EntryKind::Release(ReleaseManifest {
            subjects: vec![tarball, binary],
            predicate: ReleasePredicate {
                third_party_import: None,
                project: "hello".into(),
                version: "1.2.0".into(),
                artifacts: BTreeMap::from([
                    (
                        "hello-1.2.0.tar.gz".into(),
                        "https://downloads.example.org/hello/hello-1.2.0.tar.gz".into(),
                    ),
                    (
                        "hello-1.2.0-linux-x86_64".into(),
                        "https://downloads.example.org/hello/hello-1.2.0-linux-x86_64".into(),
                    ),
                ]),
                source: Source::Git {
                    uri: "https://git.example.org/hello.git".into(),
                    commit: "3f786850e387550fdab836ed7e6dc881de23001b".into(),
                },
                recipe: Recipe {
                    inputs: Vec::new(),
                    build_deps: Vec::new(),
                    unpinned_outputs: Default::default(),
                    build_user: Default::default(),
                    command: vec!["sh".into(), "-c".into(), "make dist && make hello".into()],
                    environment: Environment::Rootfs {
                        uri: Some(
                            "https://downloads.example.org/rootfs/debian-12-build.tar.zst".into(),
                        ),
                        digest: Digests::sha256(sha("debian-12-build.tar.zst")),
                    },
                    source_date_epoch: Some(1_735_689_600),
                    env: BTreeMap::from([
                        ("LC_ALL".into(), "C.UTF-8".into()),
                        ("TZ".into(), "UTC".into()),
                    ]),
                    outputs: BTreeMap::from([
                        ("hello-1.2.0.tar.gz".into(), "hello-1.2.0.tar.gz".into()),
                        ("build/hello".into(), "hello-1.2.0-linux-x86_64".into()),
                    ]),
                },
            },
        }))
        .unwrap()
    }

    pub(super) fn rebuild() -> Entry {
        let EntryKind::Release(r) = release().into_kind() else {
            unreachable!()
        };
        Entry::new(EntryKind::Rebuild(RebuildAttestation {
            subjects: r.subjects.clone(),
            predicate: RebuildPredicate {
                release: ReleaseRef {
                    log_index: 1234,
                    name: "hello".into(),
                    version: "1.2.0".into(),
                    digest: Digests::sha256(sha("release entry 1234")),
                },
                result: RebuildResult::Reproduced,
                comparison: Comparison::BitIdentical,
                rebuilt: r.subjects,
                build_log: Some(Digests::sha256(sha("build log"))),
                diff_report: None,
                sandbox: Sandbox {
                    kind: SandboxKind::Bubblewrap,
                    details: Some("bubblewrap 0.11.0, --unshare-all".into()),
                },
                builder: Builder {
                    id: "https://rebuilder.example.net".into(),
                    version: "0.1.0".into(),
                },
                started_on: "2025-11-21T05:34:00Z".into(),
                finished_on: "2025-11-21T05:36:41.5Z".into(),
                invocation_id: Some("https://rebuilder.example.net/jobs/1234".into()),
                detail: None,
                variations: vec![],
            },
        }))
        .unwrap()
    }

    fn release_ref() -> (ReleaseRef, Vec<Artifact>) {
        let EntryKind::Release(r) = release().into_kind() else {
            unreachable!()
        };
        let reference = ReleaseRef {
            log_index: 1234,
            name: "hello".into(),
            version: "1.2.0".into(),
            digest: Digests::sha256(sha("release entry 1234")),
        };
        (reference, r.subjects)
    }

    pub(super) fn announcement() -> Entry {
        let (release, subjects) = release_ref();
        Entry::new(EntryKind::Announcement(Announcement {
            subjects,
            predicate: AnnouncementPredicate {
                release,
                attestations: vec![1240, 1251],
                unverified: None,
            },
        }))
        .unwrap()
    }

    pub(super) fn withdrawal() -> Entry {
        let (release, subjects) = release_ref();
        Entry::new(EntryKind::Withdrawal(Withdrawal {
            subjects,
            predicate: WithdrawalPredicate {
                project: "hello".into(),
                version: "1.2.0".into(),
                release: Some(release),
                reason: "the rebuilders disagree with the published binary".into(),
            },
        }))
        .unwrap()
    }

    pub(super) fn yank() -> Entry {
        let (release, subjects) = release_ref();
        Entry::new(EntryKind::Yank(Yank {
            subjects,
            predicate: YankPredicate {
                release,
                announcement: 1260,
                reason: "corrupts data on upgrade".into(),
                replacement: Some("1.2.1".into()),
            },
        }))
        .unwrap()
    }

    pub(super) fn revocation() -> Entry {
        Entry::new(EntryKind::Revocation(RevocationNotice {
            revoked_key: vkey_of("rebuilder.example.net", &test_key()),
            reason: RevocationReason::Superseded,
            effective_index: Some(5000),
            replacement: Some(vkey_of(
                "rebuilder.example.net",
                &SigningKey::from_bytes(&[0x43; 32]),
            )),
            comment: Some("key rotation".into()),
        }))
        .unwrap()
    }

    pub(super) fn envelope() -> Envelope {
        let key = test_key();
        let keyid = vkey_of("rebuilder.example.net", &key);
        Envelope::sign(
            crate::statement::PAYLOAD_TYPE,
            &revocation().encode(),
            &[(&keyid, &key)],
        )
        .unwrap()
    }

    pub(super) fn vkey_of(name: &str, key: &SigningKey) -> String {
        let mut material = vec![0x01];
        material.extend_from_slice(&key.verifying_key().to_bytes());
        let id = Sha256::digest([name.as_bytes(), b"\n", &material].concat());
        format!(
            "{name}+{}+{}",
            hex::encode(&id[..4]),
            STANDARD.encode(&material)
        )
    }

    /// A statement pretty-printed in the in-toto field order, as the document shows it.
    pub(super) fn pretty(entry: &Entry) -> String {
        let v: Value = serde_json::from_slice(&entry.encode()).unwrap();
        let field = |k: &str| {
            serde_json::to_string_pretty(&v[k])
                .unwrap()
                .replace('\n', "\n  ")
        };
        format!(
            "{{\n  \"_type\": {},\n  \"subject\": {},\n  \"predicateType\": {},\n  \"predicate\": {}\n}}",
            field("_type"),
            field("subject"),
            field("predicateType"),
            field("predicate")
        )
    }

    /// The `json` code blocks of a markdown text that follow an `<!-- example: NAME -->` line.
    pub(super) fn blocks(doc: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            let Some(name) = line
                .trim()
                .strip_prefix("<!-- example: ")
                .and_then(|r| r.strip_suffix(" -->"))
            else {
                continue;
            };
            assert_eq!(
                lines.next().map(str::trim),
                Some("```json"),
                "example {name} must start with ```json"
            );
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            out.insert(name.to_owned(), body.join("\n"));
        }
        out
    }
}

#[test]
fn formats_doc_examples_are_valid_and_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/formats.md");
    let doc = match std::fs::read_to_string(&path) {
        Ok(doc) => doc,
        Err(e) => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "{}: {e}", path.display());
            eprintln!("SKIPPED: {} not readable: {e}", path.display());
            return;
        }
    };
    let blocks = doc_examples::blocks(&doc);
    for (name, entry) in [
        ("release", doc_examples::release()),
        ("rebuild", doc_examples::rebuild()),
        ("revocation", doc_examples::revocation()),
        ("announcement", doc_examples::announcement()),
        ("withdrawal", doc_examples::withdrawal()),
        ("yank", doc_examples::yank()),
    ] {
        let expected = doc_examples::pretty(&entry);
        let text = blocks.get(name).unwrap_or_else(|| {
            panic!("docs/formats.md lacks example {name}; it should be:\n{expected}")
        });
        match Entry::parse(text.as_bytes()) {
            Ok(parsed) => assert_eq!(
                parsed, entry,
                "example {name} is stale; it should be:\n{expected}"
            ),
            Err(e) => panic!("example {name} is invalid ({e}); it should be:\n{expected}"),
        }
    }
    let envelope = doc_examples::envelope();
    let expected =
        serde_json::to_string_pretty(&serde_json::from_slice::<Value>(&envelope.encode()).unwrap())
            .unwrap();
    let text = blocks.get("envelope").unwrap_or_else(|| {
        panic!("docs/formats.md lacks example envelope; it should be:\n{expected}")
    });
    let parsed = crate::dsse::Envelope::parse(text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}; it should be:\n{expected}"));
    assert_eq!(
        parsed, envelope,
        "example envelope is stale; it should be:\n{expected}"
    );
    let key = crate::dsse::TrustedKey {
        id: "test".into(),
        key: doc_examples::test_key().verifying_key(),
    };
    let verified = parsed
        .verify(&[key], 1, &[crate::statement::PAYLOAD_TYPE])
        .unwrap();
    assert_eq!(
        Entry::parse(verified.payload()).unwrap(),
        doc_examples::revocation()
    );
    assert_eq!(
        parsed.signatures()[0].keyid,
        doc_examples::vkey_of("rebuilder.example.net", &doc_examples::test_key())
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Entry::parse(&bytes);
        }

        #[test]
        fn mutated_entries_never_panic(index in 0usize..8, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let entries = all_valid_entries();
            let mut bytes = entries[index].encode();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(e) = Entry::parse(&bytes) {
                // Whatever survives a byte flip is still a valid entry that round-trips.
                prop_assert_eq!(Entry::parse(&e.encode()).unwrap(), e);
            }
        }
    }
}

/// A release manifest in the format as it was before recipes had inputs, build_deps,
/// build_user, an unset SOURCE_DATE_EPOCH and third-party imports: it still parses, means
/// what it meant, and encodes without any of the new fields (so its digests do not change).
#[test]
fn an_old_release_manifest_still_parses_and_encodes_the_same_fields() {
    let old = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "hello-1.0.tar.gz", "digest": {"sha256": "ab".repeat(32)}}],
        "predicateType": RELEASE_PREDICATE_TYPE,
        "predicate": {
            "project": "hello",
            "version": "1.0",
            "source": {"kind": "archive", "uri": "https://example.org/src.tar.gz",
                       "digest": {"sha256": "cd".repeat(32)}},
            "recipe": {
                "command": ["make", "dist"],
                "environment": {"toolchain": "host"},
                "source_date_epoch": 1_700_000_000u64,
                "outputs": {"dist/hello-1.0.tar.gz": "hello-1.0.tar.gz"}
            }
        }
    });
    let bytes = serde_json::to_vec(&old).unwrap();
    let entry = Entry::parse(&bytes).unwrap();
    let EntryKind::Release(m) = entry.kind() else {
        panic!("not a release")
    };
    let r = &m.predicate.recipe;
    assert_eq!(r.source_date_epoch, Some(1_700_000_000));
    assert!(r.inputs.is_empty() && r.build_deps.is_empty());
    assert_eq!(r.build_user, BuildUser::Builder);
    assert!(m.predicate.third_party_import.is_none());
    let again: Value = serde_json::from_slice(&entry.encode()).unwrap();
    assert_eq!(
        again, old,
        "the old manifest's fields are exactly what is encoded again"
    );
}

fn new_recipe_release(recipe: Value, import: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "p-1.0-py3-none-any.whl", "digest": {"sha256": "ab".repeat(32)}}],
        "predicateType": RELEASE_PREDICATE_TYPE,
        "predicate": {
            "project": "p",
            "version": "1.0",
            "source": {"kind": "archive", "uri": "https://files.example/p-1.0.tar.gz",
                       "digest": {"sha256": "cd".repeat(32)}},
            "recipe": recipe,
            "third_party_import": import,
        }
    }))
    .unwrap()
}

#[test]
fn recipes_with_inputs_build_deps_root_and_an_unset_epoch_round_trip_and_are_checked() {
    let dep = json!({"kind": "pypi-wheel", "name": "flit-core", "version": "3.10.1",
                     "uri": "https://files.example/flit_core-3.10.1-py3-none-any.whl",
                     "digest": {"sha256": "ef".repeat(32)}});
    let recipe = |extra: Value| {
        let mut r = json!({
            "command": ["python3", "-S", "-c", "pass"],
            "environment": {"toolchain": "host"},
            "source_date_epoch": null,
            "outputs": {"reprove-dist/p-1.0-py3-none-any.whl": "p-1.0-py3-none-any.whl"},
            "inputs": [{"uri": "https://files.example/data.bin",
                        "digest": {"sha256": "01".repeat(32)}, "path": "vendor/data.bin"}],
            "build_deps": [dep.clone()],
            "build_user": "root"
        });
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let import = json!({"ecosystem": "pypi", "index": "https://pypi.org/simple",
                        "digest_sources": {"p-1.0-py3-none-any.whl": "https://pypi.org/simple/p/"},
                        "notes": ["SOURCE_DATE_EPOCH unset: hatchling's default dates"]});
    let bytes = new_recipe_release(recipe(json!({})), import.clone());
    let entry = Entry::parse(&bytes).unwrap();
    let EntryKind::Release(m) = entry.kind() else {
        panic!("not a release")
    };
    let r = &m.predicate.recipe;
    assert_eq!(r.source_date_epoch, None);
    assert_eq!(r.inputs[0].path, "vendor/data.bin");
    assert_eq!(r.build_deps[0].kind, DepKind::PypiWheel);
    assert_eq!(r.build_user, BuildUser::Root);
    assert_eq!(
        m.predicate.third_party_import.as_ref().unwrap().ecosystem,
        "pypi"
    );
    let again: Value = serde_json::from_slice(&entry.encode()).unwrap();
    assert_eq!(again, serde_json::from_slice::<Value>(&bytes).unwrap());

    // `source_date_epoch` is required: `null` says unset, absence says nothing.
    let mut missing = recipe(json!({}));
    missing.as_object_mut().unwrap().remove("source_date_epoch");
    let cases = [
        (missing, import.clone(), "source_date_epoch"),
        (
            recipe(
                json!({"inputs": [{"uri": "https://x/y", "digest": {"sha256": "01".repeat(32)}, "path": "../y"}]}),
            ),
            import.clone(),
            "not a plain relative path",
        ),
        (
            recipe(json!({"build_deps": [dep.clone(), dep.clone()]})),
            import.clone(),
            "build dependency",
        ),
        (
            recipe(json!({"build_user": "admin"})),
            import.clone(),
            "admin",
        ),
        (
            recipe(json!({})),
            json!({"ecosystem": "pypi", "index": "https://pypi.org/simple",
                                   "digest_sources": {}, "notes": ["bad\u{1}note"]}),
            "notes",
        ),
    ];
    for (i, (recipe, import, want)) in cases.into_iter().enumerate() {
        let err = Entry::parse(&new_recipe_release(recipe, import)).unwrap_err();
        assert!(err.to_string().contains(want), "case {i}: {err}");
    }
}

#[test]
fn staged_entries_keep_their_rules() {
    let EntryKind::Announcement(good) = doc_examples::announcement().into_kind() else {
        unreachable!()
    };
    let refuse = |kind: EntryKind, want: &str| {
        let err = Entry::new(kind).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    };
    let mut a = good.clone();
    a.predicate.attestations = vec![1251, 1240];
    refuse(EntryKind::Announcement(a), "strictly increasing");
    let mut a = good.clone();
    a.predicate.attestations = vec![1000];
    refuse(EntryKind::Announcement(a), "after the release");
    let mut a = good.clone();
    a.predicate.attestations.clear();
    refuse(EntryKind::Announcement(a), "or is unverified");
    let mut a = good.clone();
    a.predicate.unverified = Some(Unverified {
        reason: "fix".into(),
    });
    refuse(EntryKind::Announcement(a), "names no attestations");
    let mut a = good.clone();
    a.predicate.attestations.clear();
    a.predicate.unverified = Some(Unverified {
        reason: String::new(),
    });
    refuse(EntryKind::Announcement(a), "unverified.reason");
    let mut a = good;
    a.predicate.attestations.clear();
    a.predicate.unverified = Some(Unverified {
        reason: "CVE".into(),
    });
    assert!(Entry::new(EntryKind::Announcement(a)).is_ok());

    let EntryKind::Withdrawal(w) = doc_examples::withdrawal().into_kind() else {
        unreachable!()
    };
    let mut other = w.clone();
    other.predicate.version = "9".into();
    refuse(
        EntryKind::Withdrawal(other),
        "the project and version it withdraws",
    );
    let mut unreleased = w.clone();
    unreleased.predicate.release = None;
    assert!(Entry::new(EntryKind::Withdrawal(unreleased)).is_ok());
    let mut empty = w;
    empty.subjects.clear();
    refuse(EntryKind::Withdrawal(empty), "no subjects");

    let EntryKind::Yank(y) = doc_examples::yank().into_kind() else {
        unreachable!()
    };
    let mut early = y.clone();
    early.predicate.announcement = 1;
    refuse(EntryKind::Yank(early), "announced after it is logged");
    let mut own = y;
    own.predicate.replacement = Some("1.2.0".into());
    refuse(EntryKind::Yank(own), "its own replacement");
}

/// A crate-like release: every output unpinned, the source archive its one subject.
fn unpinned_release() -> ReleaseManifest {
    let mut r = release();
    let crate_digest = Digests::sha256(sha("crate"));
    r.subjects = vec![Artifact {
        name: "hello-1.0.crate".into(),
        digest: crate_digest,
    }];
    r.predicate.artifacts.clear();
    r.predicate.source = Source::Archive {
        uri: "https://example.com/hello-1.0.crate".into(),
        digest: crate_digest,
    };
    r.predicate.recipe.outputs.clear();
    r.predicate.recipe.unpinned_outputs =
        BTreeMap::from([("target/release/hello".into(), "hello".into())]);
    r
}

#[test]
fn unpinned_outputs_follow_their_rules() {
    let r = unpinned_release();
    r.validate().unwrap();
    assert!(r.pinned_subjects().is_empty());
    assert!(r.is_unpinned("hello") && !r.is_unpinned("hello-1.0.crate"));
    // Its subject must be the source archive.
    let mut other = r.clone();
    other.subjects[0].digest = Digests::sha256(sha("not the crate"));
    assert!(matches!(
        other.validate(),
        Err(PredicateError::UnpinnedReleaseSubject)
    ));
    // An unpinned output may not be named like a subject, nor sit at an output's path.
    let mut clash = release();
    clash
        .predicate
        .recipe
        .unpinned_outputs
        .insert("build/other".into(), "hello-1.0-x86_64".into());
    assert!(matches!(
        clash.validate(),
        Err(PredicateError::Duplicate { .. })
    ));
    let mut same_path = release();
    same_path
        .predicate
        .recipe
        .unpinned_outputs
        .insert("build/hello".into(), "extra".into());
    assert!(matches!(
        same_path.validate(),
        Err(PredicateError::UnsafeOutputPath { .. })
    ));
    // Beside pinned outputs, an unpinned one keeps every subject produced by an output.
    let mut mixed = release();
    mixed
        .predicate
        .recipe
        .unpinned_outputs
        .insert("build/extra".into(), "extra".into());
    mixed.validate().unwrap();
    assert_eq!(mixed.pinned_subjects().len(), 2);
}
