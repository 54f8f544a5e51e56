//! The ten steps of the demo, in order. Each prints what happens in plain words, runs the real
//! commands, and checks that the outcome is the one the story tells.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use super::procs::{Procs, Ran};
use super::{DemoOptions, StoryBroken};
use crate::client::{ClientOptions, LogClient};

const ORIGIN: &str = "demo.reprove.localhost/log";
const PUBLISHER: &str = "publisher";
/// The three rebuilders, each run by a different operator.
const REBUILDERS: [(&str, &str); 3] = [
    ("alpha", "Alpha Reproducible Builds e.V."),
    ("beta", "Beta University CS lab"),
    ("gamma", "Gamma Distro infra team"),
];
/// The operator whose key the story declares compromised.
const COMPROMISED: &str = "gamma";

/// Fails the story (exit 1) unless `ok`.
fn check(ok: bool, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(StoryBroken(what()).into())
    }
}

/// Runs `args`, requiring exit `code`; a different exit code breaks the story.
fn expect(procs: &Procs, args: &[&str], code: i32) -> anyhow::Result<Ran> {
    let ran = procs.run(args)?;
    check(ran.code == Some(code), || {
        format!(
            "`{}` exited with {:?}, expected {code}:\n{}",
            Procs::shown(args),
            ran.code,
            ran.all()
        )
    })?;
    Ok(ran)
}

fn json(ran: &Ran) -> anyhow::Result<Value> {
    serde_json::from_str(&ran.stdout).with_context(|| format!("reading JSON from:\n{}", ran.all()))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// Prints the story: step titles in bold on a terminal (unless NO_COLOR), details indented.
struct Narrator {
    bold: bool,
}

impl Narrator {
    fn new() -> Narrator {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Narrator {
            bold: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn step(&self, n: u32, title: &str) {
        let mut out = std::io::stdout().lock();
        if self.bold {
            let _ = writeln!(out, "\n\x1b[1m{n}. {title}\x1b[0m");
        } else {
            let _ = writeln!(out, "\n{n}. {title}");
        }
    }

    fn say(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        for line in text.lines() {
            let _ = writeln!(out, "   {line}");
        }
    }

    fn command(&self, args: &[&str]) {
        self.say(&format!("$ {}", Procs::shown(args)));
    }
}

/// Everything the later steps need from the earlier ones.
struct World {
    dir: PathBuf,
    url: String,
    log_vkey: String,
    publisher_vkey: String,
    vkeys: Vec<(String, String)>,
    policy: PathBuf,
    state: PathBuf,
    good: PathBuf,
    tampered: PathBuf,
    /// The log index of the first release the publisher logged.
    first_release: u64,
}

/// Tells the whole story.
pub fn tell(dir: &Path, procs: &mut Procs, options: &DemoOptions) -> anyhow::Result<()> {
    let n = Narrator::new();
    n.say(&format!(
        "reprove demo: everything lives in {} (ledger data, keys, policy, work directories).",
        dir.display()
    ));
    let mut w = start_ledger(&n, dir, procs)?;
    make_keys(&n, procs, &mut w)?;
    publish(&n, procs, &mut w)?;
    rebuild(&n, procs, &w)?;
    verify(&n, procs, &w)?;
    gate(&n, procs, &w)?;
    staged(&n, procs, &w)?;
    revoke(&n, procs, &w)?;
    fork(&n, procs, &w)?;
    n.step(10, "Look around");
    n.say(&format!(
        "The log in a browser: {}/\n\
         Releases: {}/releases   Rebuilders: {}/rebuilders   Revocations: {}/revocations\n\
         The staged release: {}/release/hello/1.1.0   Latest: {}/latest/hello",
        w.url, w.url, w.url, w.url, w.url, w.url
    ));
    n.say("Every outcome above happened as the story says.");
    if options.exit {
        return Ok(());
    }
    n.say("The ledger keeps running until Ctrl-C.");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())?;
    Ok(())
}

fn start_ledger(n: &Narrator, dir: &Path, procs: &mut Procs) -> anyhow::Result<World> {
    n.step(
        1,
        "A ledger starts: an append-only Merkle-tree log (C2SP tlog-tiles) kept in RocksDB",
    );
    let data = dir.join("ledger");
    let init = ["ledger", "init", "--data", path(&data), "--origin", ORIGIN];
    n.command(&init);
    expect(procs, &init, 0)?;
    let log_vkey = std::fs::read_to_string(data.join("log.pub"))?
        .trim()
        .to_owned();
    let serve = [
        "ledger",
        "serve",
        "--data",
        path(&data),
        "--listen",
        "127.0.0.1:0",
        "--batch-max-age",
        "20",
    ];
    n.command(&serve);
    let url = procs.serve("ledger", &serve)?;
    n.say(&format!(
        "origin   {ORIGIN}\nlog key  {log_vkey}\nserving  {url}\n\
         Every checkpoint it serves is signed by that key; nobody, its operator included, can\n\
         rewrite or fork the log without every consumer who checks noticing."
    ));
    Ok(World {
        dir: dir.to_owned(),
        url,
        log_vkey,
        publisher_vkey: String::new(),
        vkeys: Vec::new(),
        policy: dir.join("policy.toml"),
        state: dir.join("consumer-state"),
        good: PathBuf::new(),
        tampered: PathBuf::new(),
        first_release: 0,
    })
}

fn make_keys(n: &Narrator, procs: &mut Procs, w: &mut World) -> anyhow::Result<()> {
    n.step(
        2,
        "Keys: one for the publisher, one for each of three rebuilders run by three operators",
    );
    let keys = w.dir.join("keys");
    for name in std::iter::once(PUBLISHER).chain(REBUILDERS.iter().map(|(k, _)| *k)) {
        let args = ["key", "generate", "--name", name, "--out", path(&keys)];
        n.command(&args);
        let ran = expect(procs, &args, 0)?;
        let vkey = ran.stdout.trim().to_owned();
        if name == PUBLISHER {
            w.publisher_vkey = vkey;
        } else {
            w.vkeys.push((name.to_owned(), vkey));
        }
    }
    let mut policy = format!(
        "# The consumer's policy: which log, which rebuilders, how many must agree.\n\
         threshold = 2\non_mismatch = \"fail\"\n\n[log]\norigin = \"{ORIGIN}\"\n\
         key = \"{}\"\nurl = \"{}\"\n",
        w.log_vkey, w.url
    );
    for ((name, operator), (_, vkey)) in REBUILDERS.iter().zip(&w.vkeys) {
        policy.push_str(&format!(
            "\n[[operator]]\n# {operator}\nname = \"{name}\"\nkeys = [\"{vkey}\"]\n"
        ));
    }
    policy.push_str(&format!(
        "\n[[publisher]]\n# who speaks for hello: its releases, announcements and yanks\n\
         name = \"hello team\"\nprojects = [\"hello\"]\nkeys = [\"{}\"]\n",
        w.publisher_vkey
    ));
    std::fs::write(&w.policy, &policy)?;
    n.say(&format!(
        "A consumer's policy ({}): trust this log and hello's releases signed by the publisher's\n\
         key, and call an artifact trusted when at least 2 of the operators alpha, beta and gamma\n\
         reproduced its exact bytes.",
        w.policy.display()
    ));
    Ok(())
}

/// The C fixture's files, built into the binary so the demo runs from anywhere.
const HELLO_C: &str = include_str!("../../fixtures/hello-c/src/hello.c");
const HELLO_MAKEFILE: &str = include_str!("../../fixtures/hello-c/src/Makefile");
const HELLO_README: &str = include_str!("../../fixtures/hello-c/src/README");
/// The backdoor stand-in: what the 1.0.1 tarball on the download server was really built from.
const TAMPERED_C: &str = include_str!("../../fixtures/tampered/hello.c");
const EPOCH: u64 = 1_700_000_000;

/// Writes the source tree of hello VERSION (with `hello_c` as its hello.c) as a deterministic
/// `.tar.gz` under one top directory, and returns its path.
fn source_tarball(dir: &Path, version: &str, hello_c: &str) -> anyhow::Result<PathBuf> {
    let name = format!("hello-{version}");
    let makefile = HELLO_MAKEFILE.replace("NAME = hello-c-1.0.0", &format!("NAME = {name}"));
    let out = dir.join(format!("{name}-src.tar.gz"));
    let file = std::fs::File::create(&out)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for (file, body) in [
        ("Makefile", makefile.as_str()),
        ("README", HELLO_README),
        ("hello.c", hello_c),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(EPOCH);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        tar.append_data(&mut header, format!("{name}/{file}"), body.as_bytes())?;
    }
    tar.into_inner()?.finish()?;
    Ok(out)
}

/// A publisher manifest for hello VERSION built from `source`, publishing `tarball`.
fn manifest(version: &str, source: &Path, source_url: Option<&str>, tarball: &Path) -> String {
    let url = source_url
        .map(|u| format!("url = \"{u}\"\n"))
        .unwrap_or_default();
    format!(
        "# hello {version}: written by `reprove demo` (see fixtures/hello-c/reprove.toml)\n\
         project = \"hello\"\nversion = \"{version}\"\n\n[source]\npath = \"{}\"\n\
         {url}\n\
         [recipe]\ncommand = [\"make\", \"dist\"]\ntoolchain = \"host\"\n\
         source_date_epoch = {EPOCH}\n\n[recipe.env]\nCC = \"gcc\"\n\n\
         [recipe.outputs]\n\"out/hello-{version}.tar.gz\" = \"hello-{version}.tar.gz\"\n\n\
         [[artifact]]\nname = \"hello-{version}.tar.gz\"\npath = \"{}\"\n",
        source.display(),
        tarball.display()
    )
}

/// Builds `manifest` in the sandbox, as a publisher does, with its artifacts copied to `out`.
fn build(
    n: &Narrator,
    procs: &Procs,
    manifest: &Path,
    out: &Path,
    work: &Path,
) -> anyhow::Result<()> {
    let args = [
        "rebuild",
        "--manifest",
        path(manifest),
        "--out",
        path(out),
        "--work",
        path(work),
    ];
    n.command(&args);
    expect(procs, &args, 0)?;
    Ok(())
}

fn publish(n: &Narrator, procs: &mut Procs, w: &mut World) -> anyhow::Result<()> {
    n.step(
        3,
        "The publisher releases hello 1.0.0, and hello 1.0.1 whose tarball was tampered with",
    );
    let home = w.dir.join("publisher");
    let dist = home.join("dist");
    std::fs::create_dir_all(&dist)?;
    let key = w.dir.join("keys").join(format!("{PUBLISHER}.key"));
    // The publisher's download server: rebuilders fetch a logged release's inputs only over
    // HTTP(S), never from a path on their own machine.
    let downloads = super::files::serve_dir(&home)?;
    n.say(&format!("the publisher's download server: {downloads}/"));
    for version in ["1.0.0", "1.0.1"] {
        let source = source_tarball(&home, version, HELLO_C)?;
        let source_url = format!("{downloads}/hello-{version}-src.tar.gz");
        let tarball = dist.join(format!("hello-{version}.tar.gz"));
        let release = home.join(format!("hello-{version}.toml"));
        std::fs::write(
            &release,
            manifest(version, &source, Some(&source_url), &tarball),
        )?;
        if version == "1.0.0" {
            n.say("hello 1.0.0: built from its source in the same sandbox rebuilders use.");
            build(n, procs, &release, &dist, &home.join("work"))?;
        } else {
            // The clean source is what the release names; the tarball on the download server
            // was built from a backdoored hello.c on a compromised build machine.
            n.say(
                "hello 1.0.1: its manifest names the clean source, but the tarball on the\n\
                 download server was built from a backdoored hello.c (fixtures/tampered).",
            );
            let bad = home.join("compromised-build-machine");
            std::fs::create_dir_all(&bad)?;
            let bad_source = source_tarball(&bad, version, TAMPERED_C)?;
            let bad_release = bad.join("hello-1.0.1.toml");
            std::fs::write(&bad_release, manifest(version, &bad_source, None, &tarball))?;
            build(n, procs, &bad_release, &dist, &bad.join("work"))?;
        }
        // Rebuilders download the published tarball to explain a mismatch.
        let prefix = format!("{downloads}/dist");
        let args = [
            "release",
            "publish",
            path(&release),
            "--key",
            path(&key),
            "--ledger",
            &w.url,
            "--log-key",
            &w.log_vkey,
            "--artifact-url-prefix",
            &prefix,
        ];
        n.command(&args);
        let mut json_args = args.to_vec();
        json_args.push("--json");
        let answer = json(&expect(procs, &json_args, 0)?)?;
        let index = answer["index"]
            .as_u64()
            .with_context(|| format!("no index in {answer}"))?;
        n.say(&format!("logged at index {index}"));
        if version == "1.0.0" {
            w.first_release = index;
            w.good = tarball;
        } else {
            w.tampered = tarball;
        }
    }
    Ok(())
}

/// The command line of rebuilder `name`'s node: follow the log, build what the publisher
/// logged, attest, exit when idle.
fn rebuilder_args(w: &World, name: &str) -> Vec<String> {
    let work = w.dir.join("work").join(name);
    let key = w.dir.join("keys").join(format!("{name}.key"));
    [
        "rebuilder",
        "run",
        "--ledger",
        &w.url,
        "--log-key",
        &w.log_vkey,
        "--key",
        path(&key),
        "--work",
        path(&work),
        "--publisher",
        &w.publisher_vkey,
        "--exit-when-idle",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn rebuild(n: &Narrator, procs: &mut Procs, w: &World) -> anyhow::Result<()> {
    n.step(
        4,
        "Three rebuilder nodes follow the log, rebuild each release in a sandbox and attest",
    );
    for (name, _) in REBUILDERS {
        let owned = rebuilder_args(w, name);
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        n.command(&args);
        procs.spawn(&format!("rebuilder-{name}"), &args)?;
    }
    for (name, _) in REBUILDERS {
        let process = format!("rebuilder-{name}");
        let code = procs.wait(&process)?;
        check(code == Some(0), || {
            format!(
                "rebuilder {name} exited with {code:?}; its log:\n{}",
                std::fs::read_to_string(procs.log_of(&process)).unwrap_or_default()
            )
        })?;
    }
    n.say("All three nodes rebuilt both releases and logged a signed attestation of each outcome.");
    Ok(())
}

fn verify_args<'a>(w: &'a World, file: &'a Path, ledger: &'a str) -> Vec<&'a str> {
    vec![
        "verify",
        path(file),
        "--policy",
        path(&w.policy),
        "--ledger",
        ledger,
        "--state",
        path(&w.state),
    ]
}

/// The names of the operators that counted, from `verify --json`.
fn counted(report: &Value) -> Vec<String> {
    report["artifacts"][0]["verdict"]["counted"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|x| x["operator"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn verify(n: &Narrator, procs: &mut Procs, w: &World) -> anyhow::Result<()> {
    n.step(5, "A consumer verifies both tarballs before trusting them");
    let args = verify_args(w, &w.good, &w.url);
    n.command(&args);
    let ran = expect(procs, &args, 0)?;
    n.say(ran.stdout.trim_end());
    let mut json_args = args.clone();
    json_args.push("--json");
    let report = json(&expect(procs, &json_args, 0)?)?;
    let who = counted(&report);
    check(who.len() == 3, || {
        format!("1.0.0 should be reproduced by 3 of 3 operators, counted: {who:?}")
    })?;

    let args = verify_args(w, &w.tampered, &w.url);
    n.command(&args);
    let ran = expect(procs, &args, 1)?;
    n.say(ran.stdout.trim_end());
    let mut json_args = args.clone();
    json_args.push("--json");
    let report = json(&expect(procs, &json_args, 1)?)?;
    let mismatches = report["artifacts"][0]["verdict"]["mismatches"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    check(mismatches == 3, || {
        format!("1.0.1 should be reported as a mismatch by all 3 operators, got {mismatches}")
    })?;
    let digest = report["artifacts"][0]["verdict"]["mismatches"][0]["diff_report_sha256"]
        .as_str()
        .unwrap_or_default();
    let digest = digest.strip_prefix("sha256:").unwrap_or(digest);
    let sha256 = reprove_verifier::statement::parse_hex32(digest)
        .with_context(|| format!("the mismatch names no diff report: {report}"))?;
    let diff = LogClient::new(&w.url, ClientOptions::default())?
        .get_blob(&sha256)
        .map_err(anyhow::Error::from)?;
    let diff = String::from_utf8_lossy(&diff);
    n.say(&format!(
        "The diff report a rebuilder stored in the ledger ({}/blob/sha256/{digest}):",
        w.url
    ));
    n.say(&diff.lines().take(16).collect::<Vec<_>>().join("\n"));
    check(diff.contains("bin/hello"), || {
        format!("the diff report should name the binary that differs:\n{diff}")
    })?;
    Ok(())
}

fn gate(n: &Narrator, procs: &mut Procs, w: &World) -> anyhow::Result<()> {
    n.step(
        6,
        "The release gate: announce a release only once it is reproduced",
    );
    for (release, code) in [("hello@1.0.0", 0), ("hello@1.0.1", 1)] {
        let args = [
            "gate",
            release,
            "--policy",
            path(&w.policy),
            "--ledger",
            &w.url,
            "--state",
            path(&w.state),
        ];
        n.command(&args);
        let ran = expect(procs, &args, code)?;
        n.say(ran.stdout.trim_end());
    }
    Ok(())
}

/// GETs `url`: its status and body.
fn fetch(url: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_vec()
        .with_context(|| format!("GET {url}"))?;
    Ok((status, body))
}

/// The staged release of hello 1.1.0: plan (its URLs fixed before the build), upload (the
/// preview), publish --staged, an announcement refused until two operators reproduce it, then
/// announced: latest moves, proven from the log.
fn staged(n: &Narrator, procs: &mut Procs, w: &World) -> anyhow::Result<()> {
    n.step(
        7,
        "The publisher stages hello 1.1.0: URLs fixed before the build, \"latest\" moved only once rebuilders agree",
    );
    let home = w.dir.join("publisher");
    let key = w.dir.join("keys").join(format!("{PUBLISHER}.key"));
    let what = "hello@1.1.0";
    let file = "hello-1.1.0.tar.gz";
    let plan = [
        "release",
        "plan",
        what,
        "--key",
        path(&key),
        "--ledger",
        &w.url,
    ];
    n.command(&plan);
    let planned = json(&expect(procs, &[&plan[..], &["--json"]].concat(), 0)?)?;
    let (set_url, release_url) = (
        planned["set_url"].as_str().unwrap_or_default().to_owned(),
        planned["release_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    n.say(&format!(
        "release URL, fixed now (an installer can embed it before the build): {release_url}{file}\n\
         set URL, the preview, live from the first upload:                  {set_url}{file}"
    ));

    let downloads = super::files::serve_dir(&home)?;
    let source = source_tarball(&home, "1.1.0", HELLO_C)?;
    let tarball = home.join("dist").join(file);
    let manifest_path = home.join("hello-1.1.0.toml");
    std::fs::write(
        &manifest_path,
        manifest(
            "1.1.0",
            &source,
            Some(&format!("{downloads}/hello-1.1.0-src.tar.gz")),
            &tarball,
        ),
    )?;
    build(
        n,
        procs,
        &manifest_path,
        &home.join("dist"),
        &home.join("work"),
    )?;
    let upload = [
        "release",
        "upload",
        what,
        path(&tarball),
        "--key",
        path(&key),
        "--ledger",
        &w.url,
    ];
    n.command(&upload);
    expect(procs, &upload, 0)?;
    let bytes = std::fs::read(&tarball)?;
    let (status, preview) = fetch(&format!("{set_url}{file}"))?;
    check(status == 200 && preview == bytes, || {
        format!("the preview should serve the uploaded bytes (HTTP {status})")
    })?;
    n.say("The preview serves the uploaded bytes. Nothing is released or announced yet.");

    let publish = [
        "release",
        "publish",
        path(&manifest_path),
        "--staged",
        "--key",
        path(&key),
        "--ledger",
        &w.url,
        "--log-key",
        &w.log_vkey,
    ];
    n.command(&publish);
    expect(procs, &publish, 0)?;
    n.say(
        "Logged and sealed: the release URL serves the same bytes; the set takes no more uploads.",
    );
    let announce = [
        "release",
        "announce",
        what,
        "--key",
        path(&key),
        "--policy",
        path(&w.policy),
        "--ledger",
        &w.url,
        "--state",
        path(&w.state),
    ];
    n.command(&announce);
    expect(procs, &announce, 1)?;
    n.say(
        "Refused, nothing logged: no operator has reproduced 1.1.0 yet, so \"latest\" stays put.",
    );

    for (name, _) in &REBUILDERS[..2] {
        let owned = rebuilder_args(w, name);
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        n.command(&args);
        expect(procs, &args, 0)?;
    }
    n.say("alpha and beta rebuilt 1.1.0 and attested.");
    n.command(&announce);
    let ran = expect(procs, &announce, 0)?;
    n.say(ran.stdout.trim_end());
    let latest = [
        "latest",
        "hello",
        "--policy",
        path(&w.policy),
        "--ledger",
        &w.url,
        "--state",
        path(&w.state),
    ];
    n.command(&latest);
    let ran = expect(procs, &latest, 0)?;
    n.say(ran.stdout.trim_end());
    let (status, served) = fetch(&format!("{}/dl/hello/latest/{file}", w.url))?;
    check(status == 200 && served == bytes, || {
        format!("/dl/hello/latest/{file} should serve 1.1.0's bytes (HTTP {status})")
    })?;
    n.say(&format!(
        "{}/dl/hello/latest/{file} now serves 1.1.0: the announcement moved it, and\n\
         every consumer can prove from the log which announcement is the newest.",
        w.url
    ));
    Ok(())
}

fn revoke(n: &Narrator, procs: &mut Procs, w: &World) -> anyhow::Result<()> {
    n.step(
        8,
        "Operator gamma's key is stolen: gamma logs a revocation notice",
    );
    // The key was stolen before the releases were published: nothing it signed from the first
    // release on may count. The log proves which attestations came before that index.
    let key = w.dir.join("keys").join(format!("{COMPROMISED}.key"));
    let effective = w.first_release.to_string();
    let args = [
        "key",
        "revoke",
        "--key",
        path(&key),
        "--reason",
        "compromised",
        "--effective-index",
        &effective,
        "--comment",
        "laptop stolen; do not trust anything signed from the first hello release on",
        "--ledger",
        &w.url,
        "--log-key",
        &w.log_vkey,
    ];
    n.command(&args);
    let ran = expect(procs, &args, 0)?;
    n.say(ran.stdout.trim_end());
    let mut args = verify_args(w, &w.good, &w.url);
    n.command(&args);
    let ran = expect(procs, &args, 0)?;
    n.say(ran.stdout.trim_end());
    args.push("--json");
    let report = json(&expect(procs, &args, 0)?)?;
    let who = counted(&report);
    check(
        who.len() == 2 && !who.iter().any(|o| o == COMPROMISED),
        || format!("after the revocation 1.0.0 should count alpha and beta only, counted: {who:?}"),
    )?;
    let revoked = report["artifacts"][0]["verdict"]["not_counted"]
        .as_array()
        .is_some_and(|nc| {
            nc.iter().any(|x| {
                x["operator"].as_str() == Some(COMPROMISED)
                    && x["reason"]["kind"].as_str() == Some("key-revoked")
            })
        });
    check(revoked, || {
        format!("gamma's attestation should be listed as revoked:\n{report:#}")
    })?;
    n.say("1.0.0 stays trusted: alpha and beta still reproduced it; gamma no longer counts.");
    Ok(())
}

fn fork(n: &Narrator, procs: &mut Procs, w: &World) -> anyhow::Result<()> {
    n.step(
        9,
        "A rogue log operator shows the consumer a forked copy of the log",
    );
    // The same log key signs a different tree: the same entries, in another order.
    let fork = w.dir.join("forked-ledger");
    let key = w.dir.join("ledger").join("log.key");
    let init = [
        "ledger",
        "init",
        "--data",
        path(&fork),
        "--origin",
        ORIGIN,
        "--key",
        path(&key),
    ];
    n.command(&init);
    expect(procs, &init, 0)?;
    let serve = [
        "ledger",
        "serve",
        "--data",
        path(&fork),
        "--key",
        path(&key),
        "--listen",
        "127.0.0.1:0",
        "--batch-max-age",
        "20",
    ];
    let fork_url = procs.serve("forked-ledger", &serve)?;
    let real = LogClient::new(&w.url, ClientOptions::default())?;
    let forked = LogClient::new(&fork_url, ClientOptions::default())?;
    let size = real
        .checkpoint(&w.log_vkey.parse().context("the log key")?)
        .map_err(anyhow::Error::from)?
        .checkpoint()
        .size();
    for index in (0..size).rev() {
        let entry = real.entry(index).map_err(anyhow::Error::from)?;
        forked.submit(&entry).map_err(anyhow::Error::from)?;
    }
    n.say(&format!(
        "The fork at {fork_url} holds the same {size} entries in another order, under the\n\
         same log key: every signature in it is valid."
    ));
    let args = verify_args(w, &w.good, &fork_url);
    n.command(&args);
    let ran = expect(procs, &args, 2)?;
    n.say(ran.stderr.trim_end());
    check(ran.stderr.contains("consisten"), || {
        format!(
            "the fork should be reported as inconsistent:\n{}",
            ran.all()
        )
    })?;
    procs.stop("forked-ledger");
    n.say("The consumer remembered the log's last checkpoint, so the fork cannot go unnoticed.");
    Ok(())
}
