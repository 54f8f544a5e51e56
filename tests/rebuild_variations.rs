//! `reprove rebuild --manifest M --variations`: the release author's tool to find out *why* a
//! build is not reproducible. A project whose every output depends on exactly one thing that
//! varies between machines; the report must name, for each variation, exactly the output it
//! changed, and call the output that embeds random bytes non-deterministic.

use crate::common;
use crate::rb;

use std::collections::BTreeSet;

use common::{reprove, text};

/// One output per variation, plus one that is random and one that is stable.
const BUILD_SH: &str = r#"#!/bin/sh
set -eu
mkdir -p out
pwd > out/path.txt
hostname > out/host.txt
umask > out/umask.txt
date +%Z > out/tz.txt
echo "$LANG" > out/lang.txt
ls files > out/order.txt
date -u +%Y-%m-%d > out/day.txt
head -c 8 /dev/urandom | od -An -tx1 > out/random.txt
echo "the same every time" > out/stable.txt
"#;

const OUTPUTS: [(&str, &str); 9] = [
    ("path.txt", "build_path"),
    ("host.txt", "hostname"),
    ("umask.txt", "umask"),
    ("tz.txt", "timezone"),
    ("lang.txt", "locale"),
    ("order.txt", "directory_order"),
    ("day.txt", "time"),
    ("random.txt", "-"),
    ("stable.txt", "-"),
];

#[test]
fn each_variation_is_named_with_the_output_it_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("files")).unwrap();
    std::fs::write(src.join("build.sh"), BUILD_SH).unwrap();
    // Several names, so a different directory order shows in `ls -f`-like listings.
    for name in ["c", "a", "d", "b", "e"] {
        std::fs::write(src.join("files").join(name), name).unwrap();
    }
    // `ls` sorts; `ls -f` lists in directory order: use it.
    let script = BUILD_SH.replace("ls files", "ls -f files | grep -v '^\\.'");
    std::fs::write(src.join("build.sh"), script).unwrap();
    rb::pack(&src, "vary-1.0", &dir.join("dist/vary-1.0-src.tar.gz"));
    let mut manifest = String::from(
        "project = \"vary\"\nversion = \"1.0\"\n[source]\npath = \"dist/vary-1.0-src.tar.gz\"\n\
         [recipe]\ncommand = [\"sh\", \"build.sh\"]\nsource_date_epoch = 1700000000\n\
         [recipe.outputs]\n",
    );
    for (file, _) in OUTPUTS {
        manifest.push_str(&format!("\"out/{file}\" = \"{file}\"\n"));
    }
    std::fs::write(dir.join("reprove.toml"), manifest).unwrap();

    let o = reprove(&[
        "rebuild",
        "--manifest",
        dir.join("reprove.toml").to_str().unwrap(),
        "--work",
        dir.join("work").to_str().unwrap(),
        "--variations",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}{}", text(&o.stdout), text(&o.stderr)));
    // Not reproducible under variation: exit 1, and the report says why.
    assert_eq!(o.status.code(), Some(1), "{v:#}\n{}", text(&o.stderr));
    let report = &v["variations"];
    let unstable: Vec<&str> = report["unstable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(unstable, ["random.txt"], "{report:#}");
    let faketime = std::path::Path::new("/usr/bin/faketime").exists();
    for (file, variation) in OUTPUTS {
        if variation == "-" || (variation == "time" && !faketime) {
            continue;
        }
        let changed: BTreeSet<&str> = report["changed_by"][variation]
            .as_array()
            .unwrap_or_else(|| panic!("no entry for {variation}: {report:#}"))
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(
            changed,
            BTreeSet::from([file]),
            "{variation} should change exactly {file}: {report:#}"
        );
    }
    // The stable output is never blamed.
    assert!(
        !report["text"].as_str().unwrap().contains("stable.txt:"),
        "{report:#}"
    );
    // Not a terminal (and --json): no progress on stderr.
    assert!(
        !text(&o.stderr).contains("variation "),
        "{}",
        text(&o.stderr)
    );

    // On a terminal, each build shows as it starts and ends; --quiet shows none.
    let (manifest, work) = (dir.join("reprove.toml"), dir.join("work"));
    let args = [
        "rebuild",
        "--manifest",
        manifest.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
        "--variations",
    ];
    let shown = on_a_terminal(&args);
    for line in [
        "variation control: building",
        "variation control: changed random.txt (",
        "variation all: building",
        "variation umask: changed umask.txt (",
        "variation hostname: changed host.txt (",
    ] {
        assert!(shown.contains(line), "{line:?} not in {shown}");
    }
    let quiet = on_a_terminal(&[&args[..], &["--quiet"]].concat());
    assert!(!quiet.contains("variation control"), "{quiet}");
    assert!(
        quiet.contains("summary:"),
        "the report is still printed: {quiet}"
    );
}

/// What `reprove ARGS` writes (stdout and stderr) when both are a terminal: run under
/// `script`, which gives it a pseudo-terminal.
fn on_a_terminal(args: &[&str]) -> String {
    let command = std::iter::once(env!("CARGO_BIN_EXE_reprove"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let o = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    text(&o.stdout).replace('\r', "")
}
