//! Every command's `--json` against the schema in `docs/json.md`: one run of every command that
//! has `--json` succeeding and one failing, in a real story (keys, a ledger on 127.0.0.1, a
//! sandboxed build, a release, two rebuilders, a consumer), each output checked field by field
//! against the page's tables. A field the page does not list, a field it marks `always` that is
//! missing, a wrong type or a missing `"schema": "reprove/v1"` fails the test, and so does a
//! command with `--json` that the page does not list or this test does not run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{Server, serve_dir, served_manifest, text};
use crate::rb::{copy_fixture, fixtures};

const SCHEMA: &str = "reprove/v1";

/// One field of a documented type.
#[derive(Debug)]
struct Field {
    ty: String,
    always: bool,
}

/// `docs/json.md`, read: the types and which commands print which.
#[derive(Debug)]
struct Schema {
    types: BTreeMap<String, BTreeMap<String, Field>>,
    commands: BTreeMap<String, Vec<String>>,
}

/// Words between backticks in a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

impl Schema {
    fn load() -> Schema {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md");
        Schema::parse(&std::fs::read_to_string(path).unwrap())
    }

    fn parse(doc: &str) -> Schema {
        let (mut types, mut commands) = (BTreeMap::new(), BTreeMap::new());
        let mut section = "";
        let mut current: Option<String> = None;
        for line in doc.lines() {
            if let Some(h) = line.strip_prefix("## ") {
                section = h;
                current = None;
            } else if let Some(h) = line.strip_prefix("### ") {
                current = Some(h.trim().to_owned());
                types.insert(h.trim().to_owned(), BTreeMap::new());
            } else if line.starts_with("| `") {
                let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
                if section == "Commands" {
                    let cmd = ticked(cells[0]).remove(0);
                    commands.insert(cmd, ticked(cells[1]));
                } else if let Some(t) = &current {
                    let name = ticked(cells[0]).remove(0);
                    let field = Field {
                        ty: cells[1].replace("\\|", "|"),
                        always: match cells[2] {
                            "always" => true,
                            "optional" => false,
                            other => panic!("{t}.{name}: presence {other:?}"),
                        },
                    };
                    types.get_mut(t).unwrap().insert(name, field);
                }
            }
        }
        assert!(types.contains_key("Failure") && !commands.is_empty());
        Schema { types, commands }
    }

    /// Checks a command's whole output: `schema` at the top, then the type.
    fn check_top(&self, v: &Value, ty: &str) -> Result<(), String> {
        let mut v = v.clone();
        let Some(fields) = v.as_object_mut() else {
            return Err(format!("not an object: {v}"));
        };
        match fields.remove("schema") {
            Some(Value::String(s)) if s == SCHEMA => {}
            other => return Err(format!("schema: {other:?}, not {SCHEMA:?}")),
        }
        self.check(&v, ty, ty)
    }

    /// Checks `v` against the type expression `ty`; `at` names the place for messages.
    fn check(&self, v: &Value, ty: &str, at: &str) -> Result<(), String> {
        let ty = ty.trim();
        if let Some(inner) = ty.strip_suffix("| null") {
            return if v.is_null() {
                Ok(())
            } else {
                self.check(v, inner, at)
            };
        }
        let wrong = || Err(format!("{at}: {v} is not {ty}"));
        if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let Some(items) = v.as_array() else {
                return wrong();
            };
            return items
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| self.check(x, inner, &format!("{at}[{i}]")));
        }
        if let Some(inner) = ty.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            let Some(map) = v.as_object() else {
                return wrong();
            };
            return map
                .iter()
                .try_for_each(|(k, x)| self.check(x, inner, &format!("{at}.{k}")));
        }
        let ok = match ty {
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            name => {
                let Some(fields) = self.types.get(name) else {
                    return Err(format!("{at}: type {name:?} is not documented"));
                };
                let Some(map) = v.as_object() else {
                    return wrong();
                };
                for key in map.keys() {
                    if !fields.contains_key(key) {
                        return Err(format!("{at}: field {key:?} is not documented in {name}"));
                    }
                }
                for (key, f) in fields {
                    match map.get(key) {
                        Some(x) => self.check(x, &f.ty, &format!("{at}.{key}"))?,
                        None if f.always => {
                            return Err(format!("{at}: field {key:?} ({name}) is missing"));
                        }
                        None => {}
                    }
                }
                true
            }
        };
        if ok { Ok(()) } else { wrong() }
    }
}

/// Runs commands with `--json` in an isolated home and checks what they print.
struct Runner {
    schema: Schema,
    home: PathBuf,
    /// (command, failed) pairs checked.
    seen: BTreeSet<(String, bool)>,
}

impl Runner {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_reprove"))
            .args(args)
            .arg("--json")
            .env("NO_COLOR", "1")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_STATE_HOME", self.home.join("state"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env_remove("REPROVE_CONFIG")
            .env_remove("REPROVE_LEDGER")
            .env_remove("REPROVE_LOG_KEY")
            .env_remove("REPROVE_POLICY")
            .output()
            .unwrap()
    }

    /// `reprove ARGS --json` must exit `code` and print one `ty` (documented for `cmd`).
    fn expect(&mut self, cmd: &str, ty: &str, code: i32, args: &[&str]) -> Value {
        let o = self.run(args);
        let out = text(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(code),
            "reprove {args:?}:\n{out}{}",
            text(&o.stderr)
        );
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("reprove {args:?}: not one JSON value ({e}):\n{out}"));
        let documented = self
            .schema
            .commands
            .get(cmd)
            .unwrap_or_else(|| panic!("{cmd} is not in docs/json.md's command table"));
        assert!(
            ty == "Failure" || documented.iter().any(|t| t == ty),
            "docs/json.md does not say that {cmd} prints {ty}"
        );
        if let Err(e) = self.schema.check_top(&v, ty) {
            panic!("reprove {args:?}: {e}\n{v:#}");
        }
        self.seen.insert((cmd.to_owned(), ty == "Failure"));
        v
    }

    fn ok(&mut self, cmd: &str, ty: &str, args: &[&str]) -> Value {
        self.expect(cmd, ty, 0, args)
    }

    fn fails(&mut self, cmd: &str, args: &[&str]) {
        let v = self.expect(cmd, "Failure", 2, args);
        assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
    }
}

/// Every command path (`reprove a b`) whose arguments include `--json`.
fn commands_with_json() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut BTreeSet<String>) {
        if cmd.get_arguments().any(|a| a.get_id() == "json") {
            out.insert(path.to_owned());
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut out = BTreeSet::new();
    walk(
        &<reprove::cli::Cli as clap::CommandFactory>::command(),
        "reprove",
        &mut out,
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_checker_refuses_what_the_page_does_not_say() {
    let schema = Schema::load();
    let log = json!({"origin": "o", "tree_size": 3, "root": "ab"});
    assert_eq!(schema.check(&log, "Log", "Log"), Ok(()));
    let mut extra = log.clone();
    extra["size"] = json!(3);
    assert!(schema.check(&extra, "Log", "Log").is_err());
    let mut missing = log.clone();
    missing.as_object_mut().unwrap().remove("root");
    assert!(schema.check(&missing, "Log", "Log").is_err());
    let mut wrong = log.clone();
    wrong["tree_size"] = json!("3");
    assert!(schema.check(&wrong, "Log", "Log").is_err());
    let top = json!({"error": "e", "causes": []});
    assert!(
        schema.check_top(&top, "Failure").is_err(),
        "no schema field"
    );
    let mut top = top;
    top["schema"] = json!(SCHEMA);
    assert_eq!(schema.check_top(&top, "Failure"), Ok(()));
    // Nested: a verdict inside an artifact is checked too.
    assert!(schema.check(&json!([{"x": 1}]), "[Counted]", "c").is_err());
    assert!(
        schema
            .check(&json!({"a": ["x"]}), "{[string]}", "m")
            .is_ok()
    );
    assert!(schema.check(&json!(null), "Log | null", "l").is_ok());
}

#[test]
fn every_command_prints_the_documented_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut r = Runner {
        schema: Schema::load(),
        home,
        seen: BTreeSet::new(),
    };
    let listed: BTreeSet<String> = r.schema.commands.keys().cloned().collect();
    assert_eq!(
        listed,
        commands_with_json(),
        "docs/json.md's command table and the commands that take --json differ"
    );

    // Keys and a log.
    let keys = dir.join("keys");
    let mut vkeys = Vec::new();
    for name in [
        "publisher.example",
        "rebuilder-a.example",
        "rebuilder-b.example",
    ] {
        let v = r.ok(
            "reprove key generate",
            "KeyGenerated",
            &["key", "generate", "--name", name, "--out", s(&keys)],
        );
        vkeys.push(v["key"].as_str().unwrap().to_owned());
    }
    r.fails(
        "reprove key generate",
        &[
            "key",
            "generate",
            "--name",
            "publisher.example",
            "--out",
            s(&keys),
        ],
    );
    let key = |name: &str| keys.join(format!("{name}.key"));
    let data = dir.join("log");
    let created = r.ok(
        "reprove ledger init",
        "LedgerCreated",
        &[
            "ledger",
            "init",
            "--data",
            s(&data),
            "--origin",
            "log.example.test/json",
        ],
    );
    assert_eq!(created["log"]["tree_size"], 0, "{created}");
    let log_key = created["key"].as_str().unwrap().to_owned();
    r.fails(
        "reprove ledger init",
        &[
            "ledger",
            "init",
            "--data",
            s(&data),
            "--origin",
            "log.example.test/json",
        ],
    );
    let server = Server::start(&data, &[]);
    let url = server.url.clone();
    let at = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|x| (*x).to_owned()).collect();
        v.extend([
            "--ledger".into(),
            url.clone(),
            "--log-key".into(),
            log_key.clone(),
        ]);
        v
    };

    // A publisher: init, a local build, a release.
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    for f in ["Makefile", "README", "hello.c"] {
        std::fs::copy(fixtures().join("hello-c/src").join(f), project.join(f)).unwrap();
    }
    r.ok(
        "reprove init",
        "Initialized",
        &["init", "--dir", s(&project)],
    );
    r.fails("reprove init", &["init", "--dir", s(&project)]);

    let fixture = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    let dist = fixture.join("dist");
    let manifest = fixture.join("reprove.toml");
    let built = r.ok(
        "reprove rebuild",
        "Built",
        &[
            "rebuild",
            "--manifest",
            s(&manifest),
            "--out",
            s(&dist),
            "--work",
            s(&dir.join("publisher-work")),
        ],
    );
    let binary = built["outputs"][0]["name"].as_str().unwrap().to_owned();
    r.fails(
        "reprove rebuild",
        &["rebuild", "--manifest", s(&dir.join("no-such.toml"))],
    );
    let served = served_manifest(&manifest);
    let prefix = serve_dir(&dist);
    let args = at(&[
        "release",
        "publish",
        s(&served),
        "--key",
        s(&key("publisher.example")),
        "--artifact-url-prefix",
        &prefix,
    ]);
    let published = r.ok(
        "reprove release publish",
        "Published",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let release_index = published["index"].as_u64().unwrap();
    let args = at(&[
        "release",
        "publish",
        s(&dir.join("no-such.toml")),
        "--key",
        s(&key("publisher.example")),
    ]);
    r.fails(
        "reprove release publish",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // Two rebuilders: one `rebuild --release --submit`, one node.
    let args = at(&[
        "rebuild",
        "--release",
        "hello-c@1.0.0",
        "--key",
        s(&key("rebuilder-a.example")),
        "--work",
        s(&dir.join("work-a")),
        "--submit",
    ]);
    let rebuilt = r.ok(
        "reprove rebuild",
        "Rebuilt",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(rebuilt["release"]["index"], release_index, "{rebuilt}");
    assert_eq!(rebuilt["result"], "reproduced", "{rebuilt}");
    let node = |k: &Path, work: &str| {
        at(&[
            "rebuilder",
            "run",
            "--key",
            s(k),
            "--work",
            s(&dir.join(work)),
            "--poll-interval",
            "200ms",
            "--exit-when-idle",
        ])
    };
    let args = node(&key("rebuilder-b.example"), "node-b");
    let stopped = r.ok(
        "reprove rebuilder run",
        "Stopped",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(stopped["jobs"]["done"], 1, "{stopped}");
    let args = node(&dir.join("no-such.key"), "node-x");
    r.fails(
        "reprove rebuilder run",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // A consumer.
    let policy = dir.join("policy.toml");
    let op_a = format!("alpha={}", vkeys[1]);
    let op_b = format!("beta={}", vkeys[2]);
    let args = at(&[
        "policy",
        "init",
        "--operator",
        &op_a,
        "--operator",
        &op_b,
        "-o",
        s(&policy),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    r.ok("reprove policy init", "PolicyWritten", &args);
    r.fails("reprove policy init", &args);
    let p = s(&policy);
    let no_policy = dir.join("no-such-policy.toml");
    let none = s(&no_policy);
    let hello = dist.join(&binary);
    let verified = r.ok(
        "reprove verify",
        "Verified",
        &["verify", s(&hello), "--policy", p],
    );
    assert_eq!(
        verified["artifacts"][0]["status"], "trusted",
        "{verified:#}"
    );
    r.fails("reprove verify", &["verify", s(&hello), "--policy", none]);
    let gated = r.ok(
        "reprove gate",
        "Gated",
        &["gate", "hello-c@1.0.0", "--policy", p],
    );
    assert_eq!(gated["trusted"], true, "{gated:#}");
    r.fails("reprove gate", &["gate", "hello-c@1.0.0", "--policy", none]);
    let bundle = dir.join("hello.bundle");
    r.ok(
        "reprove bundle",
        "BundleWritten",
        &["bundle", "hello-c@1.0.0", "--policy", p, "-o", s(&bundle)],
    );
    r.fails(
        "reprove bundle",
        &["bundle", "no-version", "--policy", p, "-o", s(&bundle)],
    );
    let offline = r.ok(
        "reprove verify",
        "Verified",
        &["verify", s(&hello), "--bundle", s(&bundle), "--policy", p],
    );
    assert_eq!(offline["mode"], "bundle", "{offline:#}");
    let shown = r.ok(
        "reprove log show",
        "Listing",
        &["log", "show", "hello-c@1.0.0", "--policy", p],
    );
    assert!(!shown["entries"].as_array().unwrap().is_empty(), "{shown}");
    r.fails(
        "reprove log show",
        &["log", "show", "hello-c@1.0.0", "--policy", none],
    );
    r.ok(
        "reprove log tail",
        "Listing",
        &["log", "tail", "-n", "5", "--policy", p],
    );
    r.fails("reprove log tail", &["log", "tail", "--policy", none]);

    // Staged releases: plan, upload, publish --staged, announce, latest, installer, yank, and a
    // withdrawn version.
    let pk = key("publisher.example");
    let staged_policy = dir.join("staged-policy.toml");
    std::fs::write(
        &staged_policy,
        format!(
            "{}\n[[publisher]]\nname = \"pub\"\nprojects = [\"hello-c\"]\nkeys = [\"{}\"]\n",
            std::fs::read_to_string(&policy).unwrap(),
            vkeys[0]
        ),
    )
    .unwrap();
    let sp = s(&staged_policy);
    let staged_manifest = served.with_file_name("staged.toml");
    std::fs::write(
        &staged_manifest,
        std::fs::read_to_string(&served)
            .unwrap()
            .replace("version = \"1.0.0\"", "version = \"2.0.0\""),
    )
    .unwrap();
    let publisher = |sub: &str, what: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["release", sub, what, "--key", s(&pk), "--ledger", &url]
            .iter()
            .map(|x| (*x).to_owned())
            .collect();
        v.extend(extra.iter().map(|x| (*x).to_owned()));
        v
    };
    let tarball = dist.join("hello-c-1.0.0.tar.gz");
    for (cmd, args) in [
        (
            "reprove release plan",
            publisher("plan", "hello-c@2.0.0", &[]),
        ),
        (
            "reprove release upload",
            publisher("upload", "hello-c@2.0.0", &[s(&hello), s(&tarball)]),
        ),
    ] {
        r.ok(
            cmd,
            "Staged",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    for (cmd, args) in [
        (
            "reprove release plan",
            publisher("plan", "hello-c@latest", &[]),
        ),
        (
            "reprove release upload",
            publisher("upload", "hello-c@9.9", &[s(&hello)]),
        ),
    ] {
        r.fails(cmd, &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let args = at(&[
        "release",
        "publish",
        s(&staged_manifest),
        "--staged",
        "--key",
        s(&pk),
    ]);
    r.ok(
        "reprove release publish",
        "Published",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let announce = |what: &str, pol: &str| -> Vec<String> {
        [
            "release",
            "announce",
            what,
            "--key",
            s(&pk),
            "--policy",
            pol,
            "--unverified",
            "--reason",
            "json schema",
        ]
        .iter()
        .map(|x| (*x).to_owned())
        .collect()
    };
    let a = announce("hello-c@2.0.0", sp);
    let announced = r.ok(
        "reprove release announce",
        "Staged",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(announced["state"], "announced", "{announced}");
    let a = announce("hello-c@2.0.0", none);
    r.fails(
        "reprove release announce",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let latest = r.ok(
        "reprove latest",
        "Latest",
        &["latest", "hello-c", "--policy", sp],
    );
    assert_eq!(latest["latest"]["version"], "2.0.0", "{latest}");
    r.fails("reprove latest", &["latest", "hello-c", "--policy", p]);
    let installer = dir.join("install.sh");
    let args = at(&["release", "installer", "hello-c@2.0.0", "-o", s(&installer)]);
    r.ok(
        "reprove release installer",
        "InstallerWritten",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let args = at(&["release", "installer", "hello-c@7.7.7", "-o", s(&installer)]);
    r.fails(
        "reprove release installer",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let y = publisher("yank", "hello-c@2.0.0", &["--reason", "json schema"]);
    r.ok(
        "reprove release yank",
        "Staged",
        &y.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    r.fails(
        "reprove release yank",
        &y.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for args in [
        publisher("plan", "hello-c@3.0.0", &[]),
        publisher("upload", "hello-c@3.0.0", &[s(&hello)]),
    ] {
        let out = r.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let w = publisher("withdraw", "hello-c@3.0.0", &["--reason", "json schema"]);
    r.ok(
        "reprove release withdraw",
        "Staged",
        &w.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    r.fails(
        "reprove release withdraw",
        &w.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // Operators: an audit from outside, the load generators.
    r.ok(
        "reprove ledger audit",
        "Audited",
        &["ledger", "audit", &url, "--log-key", &log_key],
    );
    r.fails(
        "reprove ledger audit",
        &[
            "ledger",
            "audit",
            "http://127.0.0.1:1",
            "--log-key",
            &log_key,
        ],
    );
    r.ok(
        "reprove bench hash",
        "BenchHash",
        &["bench", "hash", s(&hello)],
    );
    r.fails(
        "reprove bench hash",
        &["bench", "hash", s(&dir.join("no-such-file"))],
    );
    r.ok(
        "reprove bench web",
        "BenchWeb",
        &[
            "bench",
            "web",
            "--ledger",
            &url,
            "--page",
            "/",
            "--clients",
            "1",
            "--requests",
            "3",
        ],
    );
    r.fails(
        "reprove bench web",
        &[
            "bench",
            "web",
            "--ledger",
            "http://192.0.2.1:9",
            "--requests",
            "1",
        ],
    );
    r.ok(
        "reprove bench ledger",
        "BenchLedger",
        &[
            "bench",
            "ledger",
            "--ledger",
            &url,
            "--writers",
            "2",
            "--readers",
            "1",
            "--duration",
            "1s",
        ],
    );
    r.fails(
        "reprove bench ledger",
        &["bench", "ledger", "--ledger", "http://192.0.2.1:9"],
    );
    r.ok(
        "reprove bench sandbox",
        "BenchSandbox",
        &["bench", "sandbox", "--fixture", s(&fixture), "--runs", "1"],
    );
    r.fails(
        "reprove bench sandbox",
        &[
            "bench",
            "sandbox",
            "--fixture",
            s(&dir.join("no-such-fixture")),
        ],
    );

    // A key revoked, last: the verdicts above did not see it.
    let args = at(&[
        "key",
        "revoke",
        "--key",
        s(&key("rebuilder-b.example")),
        "--reason",
        "compromised",
        "--yes",
    ]);
    let revoked = r.ok(
        "reprove key revoke",
        "Revoked",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(revoked["revoked_key"], vkeys[2].as_str(), "{revoked}");
    let args = at(&[
        "key",
        "revoke",
        "--key",
        s(&dir.join("no-such.key")),
        "--reason",
        "compromised",
        "--yes",
    ]);
    r.fails(
        "reprove key revoke",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // A third-party import of a real PyPI release, from a simple index on 127.0.0.1 (the files
    // `make setup` caches; without them, outside CI, the import tests say SKIPPED).
    match crate::import_pypi::cached_files() {
        Some(cache) => {
            let index = crate::import_pypi::Index::start();
            crate::import_pypi::serve_tomli(&index, &cache);
            let simple = index.simple();
            for (spec, ok) in [("tomli==2.2.1", true), ("no-such-project==1.0", false)] {
                let args = at(&[
                    "import",
                    "pypi",
                    spec,
                    "--index",
                    &simple,
                    "--key",
                    s(&key("publisher.example")),
                ]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if ok {
                    let v = r.ok("reprove import pypi", "Imported", &args);
                    assert_eq!(v["backend"], "flit_core==3.10.1", "{v}");
                } else {
                    r.fails("reprove import pypi", &args);
                }
            }
        }
        None => {
            r.seen.insert(("reprove import pypi".to_owned(), false));
            r.seen.insert(("reprove import pypi".to_owned(), true));
        }
    }

    // A third-party import of a real crate, from a sparse registry on 127.0.0.1 (likewise).
    match crate::import_crate::cached_crates() {
        Some(cache) => {
            let index = crate::import_pypi::Index::start();
            crate::import_crate::serve_fortune(&index, &cache);
            let registry = crate::import_crate::registry(&index);
            for (spec, ok) in [("fortune@0.2.0", true), ("no-such-crate@1.0.0", false)] {
                let args = at(&[
                    "import",
                    "crate",
                    spec,
                    "--registry",
                    &registry,
                    "--key",
                    s(&key("publisher.example")),
                ]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if ok {
                    let v = r.ok("reprove import crate", "ImportedCrate", &args);
                    assert_eq!(v["binaries"][0], "fortune", "{v}");
                } else {
                    r.fails("reprove import crate", &args);
                }
            }
        }
        None => {
            r.seen.insert(("reprove import crate".to_owned(), false));
            r.seen.insert(("reprove import crate".to_owned(), true));
        }
    }
    // A third-party import of a real Debian source package, from a mirror on 127.0.0.1.
    match crate::import_debian::cached_files() {
        Some(cache) => {
            let index = crate::import_debian::mirror(&cache, None);
            let mirror = format!("{}/debian", index.base());
            for (spec, ok) in [("tree=2.1.0-1", true), ("tree=9.9-1", false)] {
                let args = at(&[
                    "import",
                    "debian",
                    spec,
                    "--mirror",
                    &mirror,
                    "--key",
                    s(&key("publisher.example")),
                ]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if ok {
                    let v = r.ok("reprove import debian", "ImportedDebian", &args);
                    assert_eq!(v["debs"][0]["name"], "tree_2.1.0-1_amd64.deb", "{v}");
                } else {
                    r.fails("reprove import debian", &args);
                }
            }
        }
        None => {
            r.seen.insert(("reprove import debian".to_owned(), false));
            r.seen.insert(("reprove import debian".to_owned(), true));
        }
    }

    // The stopped log, checked and exported.
    assert_eq!(server.terminate(), Some(0));
    let fsck = r.ok(
        "reprove ledger fsck",
        "Fsck",
        &["ledger", "fsck", "--data", s(&data)],
    );
    assert_eq!(fsck["clean"], true, "{fsck}");
    let missing = dir.join("no-such-log");
    r.fails(
        "reprove ledger fsck",
        &["ledger", "fsck", "--data", s(&missing)],
    );
    let out = dir.join("export");
    r.ok(
        "reprove ledger export",
        "Exported",
        &["ledger", "export", "--data", s(&data), "--out", s(&out)],
    );
    r.fails(
        "reprove ledger export",
        &["ledger", "export", "--data", s(&missing), "--out", s(&out)],
    );

    let unchecked: Vec<String> = listed
        .iter()
        .flat_map(|c| [(c.clone(), false), (c.clone(), true)])
        .filter(|k| !r.seen.contains(k))
        .map(|(c, failed)| format!("{c} ({})", if failed { "error" } else { "success" }))
        .collect();
    assert!(unchecked.is_empty(), "not run with --json: {unchecked:?}");
}
