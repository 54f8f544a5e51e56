//! Variation mode: why is a build not reproducible?
//!
//! After the baseline build, a *control* build runs with the very same settings (a little
//! later): outputs that differ between the two are not deterministic at all (they embed the
//! time, random bytes, or depend on scheduling). Then one build with every variation at once;
//! if that changes nothing else, done. Otherwise one build per variation, each compared with
//! the baseline, so the report names which variation changed which output — the questions
//! reprotest answers, with bubblewrap instead of root.
//!
//! The clock can only be shifted when `faketime` is installed; without it the `time`
//! variation is what the control build measures (it runs at a later time), and the report
//! says so.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::build::{BuildRun, Runner, Variant, remove_dir};
use super::sandbox::Exit;

/// Every variation, in the order they are tried.
pub const VARIATIONS: [&str; 7] = [
    "build_path",
    "time",
    "locale",
    "timezone",
    "umask",
    "hostname",
    "directory_order",
];

/// What the variation builds found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VariationReport {
    /// Outputs that differ between two builds with identical settings.
    pub unstable: Vec<String>,
    /// Per variation tried on its own: the outputs it changed (stable outputs only).
    pub changed_by: BTreeMap<String, Vec<String>>,
    /// Variations whose build failed although the baseline succeeded: the exit.
    pub failed: BTreeMap<String, String>,
    /// Whether each variation was tried on its own (false when the combined build changed
    /// nothing beyond the unstable outputs).
    pub isolated: bool,
    /// The human-readable report.
    pub text: String,
}

/// Applies one named variation to `v`; `faketime` says whether the clock can be shifted.
fn apply(v: &mut Variant, name: &str, faketime: bool) {
    match name {
        "build_path" => v.build_path = "/tmp/reprove-variant/build-path-2".to_owned(),
        "time" if faketime => v.faketime = Some("+398d".to_owned()),
        "locale" => v.lang = "fr_FR.UTF-8".to_owned(),
        "timezone" => v.tz = "<+14>-14".to_owned(),
        "umask" => v.umask = 0o002,
        "hostname" => v.hostname = "reprove-variant".to_owned(),
        "directory_order" => v.reverse_order = true,
        _ => {}
    }
}

fn describe(v: &Variant) -> String {
    format!(
        "build path {}, hostname {}, umask {:04o}, TZ={}, LANG={}, clock {}, directory order {}",
        v.build_path,
        v.hostname,
        v.umask,
        v.tz,
        v.lang,
        v.faketime.as_deref().unwrap_or("real"),
        if v.reverse_order {
            "reversed (tmpfs)"
        } else {
            "as created"
        }
    )
}

/// Where [`explore`] says, as it goes, which variation build starts and how each ended (a
/// line each, for people: `reprove rebuild` shows them on a terminal); `&|_| {}` for nothing.
pub type Watch<'a> = &'a dyn Fn(&str);

/// Runs the variation builds in `job/variations/…` and compares each with `baseline`, telling
/// `watch` about each build as it starts and ends.
pub fn explore(
    runner: &Runner<'_>,
    job: &Path,
    baseline: &BuildRun,
    watch: Watch<'_>,
) -> io::Result<VariationReport> {
    let mut x = Exploration {
        runner,
        watch,
        dir: job.join("variations"),
        baseline,
        faketime: faketime_in(&runner.inputs.toolchain),
        changed_by: BTreeMap::new(),
        failed: BTreeMap::new(),
        text: String::from("reprove variation report\n"),
    };
    x.introduce();
    let unstable = x.control()?;
    let isolated = x.combined(&unstable)?;
    if isolated {
        x.each_alone(&unstable)?;
    }
    x.summarize(&unstable);
    Ok(VariationReport {
        unstable,
        changed_by: x.changed_by,
        failed: x.failed,
        isolated,
        text: x.text,
    })
}

/// Whether the toolchain the build runs on has `faketime`: the command runs inside the
/// sandbox, so the host's own copy counts only when the host's `/usr` is the toolchain. A
/// root filesystem must hold both the program and its preload library.
pub fn faketime_in(toolchain: &super::sandbox::Toolchain) -> bool {
    let root = match toolchain {
        super::sandbox::Toolchain::Host { .. } => Path::new("/"),
        super::sandbox::Toolchain::Rootfs(root) => root.as_path(),
    };
    let present = |rel: &str| std::fs::symlink_metadata(root.join(rel)).is_ok();
    present("usr/bin/faketime")
        && (present("usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
            || present("usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1")
            || present("usr/lib/faketime/libfaketime.so.1"))
}

/// The builds of one [`explore`], and the report they write as they go.
struct Exploration<'a> {
    runner: &'a Runner<'a>,
    watch: Watch<'a>,
    /// Where the variation builds run (`job/variations`), each in a directory of its own.
    dir: PathBuf,
    baseline: &'a BuildRun,
    /// Whether the clock can be shifted (`faketime` is in the toolchain).
    faketime: bool,
    /// Per variation tried on its own: the outputs it changed.
    changed_by: BTreeMap<String, Vec<String>>,
    /// Per variation tried on its own whose build failed: how it ended.
    failed: BTreeMap<String, String>,
    /// The human-readable report so far.
    text: String,
}

impl Exploration<'_> {
    /// One variation build in `dir/<label>`, told to the watcher as it starts; `ended` says
    /// what it found once compared, and is told with the time the build took.
    fn build(&self, label: &str, v: &Variant) -> io::Result<(BuildRun, Instant)> {
        (self.watch)(&format!("  variation {label}: building"));
        let started = Instant::now();
        let run = self.runner.build(&self.dir.join(label), v)?;
        cleanup(&self.dir.join(label));
        Ok((run, started))
    }

    /// Tells the watcher how the build `label` begun at `started` ended.
    fn ended(&self, label: &str, started: Instant, what: &str) {
        let secs = started.elapsed().as_secs_f64();
        (self.watch)(&format!("  variation {label}: {what} ({secs:.1} s)"));
    }

    /// The baseline's settings, and whether the clock can be varied.
    fn introduce(&mut self) {
        let base = Variant::baseline();
        self.text
            .push_str(&format!("baseline: {}\n", describe(&base)));
        if !self.faketime {
            self.text.push_str(
                "note: faketime is not in the build's toolchain, so the clock cannot be shifted; the control build \
                 (same settings, run later) stands for the time variation\n",
            );
        }
    }

    /// The control build, with the baseline's settings: the outputs that differ from the
    /// baseline's are not deterministic at all.
    fn control(&mut self) -> io::Result<Vec<String>> {
        // Make sure the control build's clock reads a different second.
        std::thread::sleep(Duration::from_millis(1100));
        let (control, started) = self.build("control", &Variant::baseline())?;
        let unstable = changed(self.baseline, &control, &[]);
        self.ended("control", started, &changes(&unstable));
        if unstable.is_empty() {
            self.text
                .push_str("control build (same settings, later): identical outputs\n");
        } else {
            self.text.push_str(&format!(
                "control build (same settings, later): {} differ between two identical builds: \
                 they embed the time, random bytes or depend on scheduling\n",
                unstable.join(", ")
            ));
        }
        Ok(unstable)
    }

    /// One build with every variation at once; whether each must be tried on its own (it
    /// failed, or changed more than the `unstable` outputs).
    fn combined(&mut self, unstable: &[String]) -> io::Result<bool> {
        let mut all = Variant::baseline();
        for name in VARIATIONS {
            apply(&mut all, name, self.faketime);
        }
        let (combined, started) = self.build("all", &all)?;
        let combined_changes = changed(self.baseline, &combined, unstable);
        let what = if combined.finished.exit == Exit::Success {
            changes(&combined_changes)
        } else {
            format!("the build failed ({})", combined.finished.exit)
        };
        self.ended("all", started, &what);
        let isolated = !combined_changes.is_empty() || combined.finished.exit != Exit::Success;
        self.text
            .push_str(&format!("all variations together: {}\n", describe(&all)));
        if !isolated {
            self.text
                .push_str("  no other output changed: the build is robust to every variation\n");
        }
        Ok(isolated)
    }

    /// One build per variation (but the clock without faketime): per variation, the stable
    /// outputs it changed, or how its build failed.
    fn each_alone(&mut self, unstable: &[String]) -> io::Result<()> {
        for name in VARIATIONS {
            if name == "time" && !self.faketime {
                continue;
            }
            let mut v = Variant::baseline();
            apply(&mut v, name, self.faketime);
            let (run, started) = self.build(name, &v)?;
            if run.finished.exit != Exit::Success {
                let why = run.finished.exit.to_string();
                self.ended(name, started, &format!("the build failed ({why})"));
                self.text
                    .push_str(&format!("{name}: the build failed ({why})\n"));
                self.failed.insert(name.to_owned(), why);
                continue;
            }
            let diff = changed(self.baseline, &run, unstable);
            self.ended(name, started, &changes(&diff));
            if diff.is_empty() {
                self.text.push_str(&format!("{name}: no output changed\n"));
            } else {
                self.text
                    .push_str(&format!("{name}: changed {}\n", diff.join(", ")));
            }
            self.changed_by.insert(name.to_owned(), diff);
        }
        Ok(())
    }

    /// Per output of the baseline: not deterministic, or changed by which variations.
    fn summarize(&mut self, unstable: &[String]) {
        self.text.push_str("summary:\n");
        let mut any = false;
        for output in self.baseline.outputs.keys() {
            let causes: Vec<&str> = self
                .changed_by
                .iter()
                .filter(|(_, outs)| outs.contains(output))
                .map(|(v, _)| v.as_str())
                .collect();
            if unstable.contains(output) {
                self.text.push_str(&format!(
                    "  {output}: NOT DETERMINISTIC (differs between identical builds: time, randomness or scheduling)\n"
                ));
                any = true;
            } else if !causes.is_empty() {
                self.text
                    .push_str(&format!("  {output}: changed by {}\n", causes.join(", ")));
                any = true;
            }
        }
        if !any {
            self.text
                .push_str("  every output is the same under every variation tried\n");
        }
    }
}

/// The outputs whose sha256 differs between `a` and `b` (or that only one has), skipping
/// `ignore`.
fn changed(a: &BuildRun, b: &BuildRun, ignore: &[String]) -> Vec<String> {
    a.outputs
        .iter()
        .filter(|(name, _)| !ignore.contains(name))
        .filter(|(name, da)| {
            let db = b.outputs.get(*name).and_then(Option::as_ref);
            match (da, db) {
                (Some((_, x)), Some((_, y))) => x.sha256 != y.sha256,
                (None, None) => false,
                _ => true,
            }
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// What a build changed, in a few words.
fn changes(outputs: &[String]) -> String {
    if outputs.is_empty() {
        "no output changed".to_owned()
    } else {
        format!("changed {}", outputs.join(", "))
    }
}

fn cleanup(dir: &Path) {
    let _ = remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock is shifted only with a faketime the build can run: a root filesystem without
    /// one does not borrow the host's (whose program would not exist inside: exit 127).
    #[test]
    fn faketime_must_be_in_the_toolchain() {
        let root = tempfile::tempdir().unwrap();
        let rootfs = super::super::sandbox::Toolchain::Rootfs(root.path().to_path_buf());
        assert!(!faketime_in(&rootfs));
        std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
        std::fs::write(root.path().join("usr/bin/faketime"), "").unwrap();
        assert!(!faketime_in(&rootfs), "the program without its library");
        let lib = root.path().join("usr/lib/x86_64-linux-gnu/faketime");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libfaketime.so.1"), "").unwrap();
        assert!(faketime_in(&rootfs));
    }
}
