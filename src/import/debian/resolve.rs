//! The build root of a Debian source package: the binary packages installed before the build,
//! each pinned by exact version and by the sha256 the signed `Packages` index gives.
//!
//! With a `.buildinfo`, it is exactly its `Installed-Build-Depends`, each looked up by name and
//! version in the suite; what the suite no longer has is a refusal (it names what is missing),
//! never a nearby version. Without one, it is the suite's current versions of every
//! `Essential: yes` package, `build-essential` and the source's build dependencies, closed
//! under `Pre-Depends` and `Depends`, taking in each clause the first alternative the suite can
//! satisfy (as sbuild's resolver does; `Conflicts` are not considered). Either way the root
//! also holds [`ROOT_EXTRAS`] (and what they need), from the suite.

use std::collections::{BTreeMap, BTreeSet};

use super::deb822::{self, Relation, Stanza, compare_versions};
use super::refuse;

/// One binary package of a `Packages` index.
#[derive(Debug, Clone)]
pub struct Binary {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub arch: String,
    /// `Filename`, relative to the mirror.
    pub filename: String,
    /// `SHA256`.
    pub sha256: [u8; 32],
    /// The source package and its version (`Source:`, else the package itself).
    pub source: (String, String),
    /// The whole stanza.
    pub stanza: Stanza,
}

/// A `Packages` index for one architecture (its own and `all` packages).
#[derive(Debug, Default)]
pub struct Archive {
    /// By package name.
    pub by_name: BTreeMap<String, Vec<Binary>>,
    /// Virtual name → the packages that provide it, with the provided version if any.
    provides: BTreeMap<String, Vec<(String, Option<String>)>>,
}

impl Archive {
    /// Reads the stanzas of a `Packages` index, keeping `arch` and `all` packages.
    pub fn new(stanzas: Vec<Stanza>, arch: &str) -> Archive {
        let mut a = Archive::default();
        for st in stanzas {
            let (Some(name), Some(version), Some(pa), Some(filename), Some(sha)) = (
                st.get("Package"),
                st.get("Version"),
                st.get("Architecture"),
                st.get("Filename"),
                st.get("SHA256").and_then(super::archive::parse_sha256),
            ) else {
                continue;
            };
            if pa != arch && pa != "all" {
                continue;
            }
            let source = match st.get("Source") {
                None => (name.to_owned(), version.to_owned()),
                Some(s) => match s.split_once('(') {
                    Some((n, v)) => (
                        n.trim().to_owned(),
                        v.trim_end_matches(')').trim().to_owned(),
                    ),
                    None => (s.trim().to_owned(), version.to_owned()),
                },
            };
            if let Ok(rels) = deb822::relations(st.get("Provides").unwrap_or_default(), arch) {
                for r in rels.into_iter().flatten() {
                    let v = r.constraint.map(|(_, v)| v);
                    a.provides
                        .entry(r.name)
                        .or_default()
                        .push((name.to_owned(), v));
                }
            }
            let b = Binary {
                name: name.to_owned(),
                version: version.to_owned(),
                arch: pa.to_owned(),
                filename: filename.to_owned(),
                sha256: sha,
                source,
                stanza: st.clone(),
            };
            a.by_name.entry(b.name.clone()).or_default().push(b);
        }
        a
    }

    /// The package `name` at exactly `version`.
    pub fn exact(&self, name: &str, version: &str) -> Option<&Binary> {
        self.by_name
            .get(name)?
            .iter()
            .find(|b| compare_versions(&b.version, version).is_eq())
    }

    /// The newest version of `rel.name` that satisfies `rel`.
    fn newest(&self, rel: &Relation) -> Option<&Binary> {
        self.by_name
            .get(&rel.name)?
            .iter()
            .filter(|b| rel.allows(&b.version))
            .max_by(|x, y| compare_versions(&x.version, &y.version))
    }

    /// A real package or a provider that satisfies `rel`.
    fn candidate(&self, rel: &Relation) -> Option<&Binary> {
        self.newest(rel).or_else(|| {
            self.provides.get(&rel.name)?.iter().find_map(|(p, v)| {
                let ok = match (&rel.constraint, v) {
                    (None, _) => true,
                    (Some(_), Some(v)) => rel.allows(v),
                    (Some(_), None) => false,
                };
                ok.then(|| {
                    self.newest(&Relation {
                        name: p.clone(),
                        constraint: None,
                    })
                })
                .flatten()
            })
        })
    }
}

/// The chosen build root, by package name.
pub type Root = BTreeMap<String, Binary>;

fn satisfied(root: &Root, archive: &Archive, rel: &Relation) -> bool {
    if root.get(&rel.name).is_some_and(|b| rel.allows(&b.version)) {
        return true;
    }
    archive.provides.get(&rel.name).is_some_and(|ps| {
        ps.iter().any(|(p, v)| {
            root.contains_key(p)
                && match (&rel.constraint, v) {
                    (None, _) => true,
                    (Some(_), Some(v)) => rel.allows(v),
                    (Some(_), None) => false,
                }
        })
    })
}

/// Packages every root has beyond what dpkg-genbuildinfo records: `fakeroot`, which sbuild
/// installs in every build chroot and which configuring the root needs (reprove's
/// `debroot`), and `usr-is-merged`, since the root is merged-`/usr` as debootstrap makes it
/// (so `usrmerge | usr-is-merged` takes the second).
pub const ROOT_EXTRAS: [&str; 2] = ["usr-is-merged", "fakeroot"];

/// The suite's current build root for `build_deps` (the source's relationship clauses).
pub fn from_suite(
    archive: &Archive,
    build_deps: Vec<Vec<Relation>>,
    arch: &str,
) -> anyhow::Result<Root> {
    let mut work: Vec<(Vec<Relation>, String)> = ROOT_EXTRAS
        .iter()
        .map(|n| (plain(n), "reprove's root".to_owned()))
        .collect();
    for (name, bins) in &archive.by_name {
        if bins
            .iter()
            .any(|b| b.stanza.get("Essential") == Some("yes"))
        {
            work.push((plain(name), "Essential: yes".to_owned()));
        }
    }
    work.push((plain("build-essential"), "build-essential".to_owned()));
    for clause in build_deps {
        work.push((clause, "the source's Build-Depends".to_owned()));
    }
    let mut root = Root::new();
    close(archive, &mut root, work, arch)?;
    Ok(root)
}

/// Adds to `root` what satisfies every clause of `work` and, transitively, their
/// `Pre-Depends` and `Depends`.
fn close(
    archive: &Archive,
    root: &mut Root,
    mut work: Vec<(Vec<Relation>, String)>,
    arch: &str,
) -> anyhow::Result<()> {
    let mut i = 0;
    while i < work.len() {
        let (clause, why) = work[i].clone();
        i += 1;
        if clause.iter().any(|r| satisfied(root, archive, r)) {
            continue;
        }
        let Some(pick) = clause.iter().find_map(|r| archive.candidate(r)) else {
            return refuse(format!(
                "the build root cannot be made from the suite: nothing satisfies {} (needed by {why})",
                show(&clause)
            ));
        };
        if let Some(have) = root.get(&pick.name) {
            return refuse(format!(
                "the build root cannot be made from the suite: {} needs {}, but {} {} is already chosen",
                why,
                show(&clause),
                have.name,
                have.version
            ));
        }
        let by = format!("{} {}", pick.name, pick.version);
        for field in ["Pre-Depends", "Depends"] {
            let rels = deb822::relations(pick.stanza.get(field).unwrap_or_default(), arch)
                .map_err(|e| super::Refusal(format!("{by}: {field}: {e}")))?;
            work.extend(rels.into_iter().map(|c| (c, by.clone())));
        }
        root.insert(pick.name.clone(), pick.clone());
    }
    Ok(())
}

fn plain(name: &str) -> Vec<Relation> {
    vec![Relation {
        name: name.to_owned(),
        constraint: None,
    }]
}

fn show(clause: &[Relation]) -> String {
    clause
        .iter()
        .map(|r| match &r.constraint {
            Some((op, v)) => format!("{} ({op} {v})", r.name),
            None => r.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The build root a `.buildinfo` records (`Installed-Build-Depends`), each exact version
/// looked up in the suite. Refuses, naming them, when the suite lacks any.
pub fn from_buildinfo(archive: &Archive, installed: &str, arch: &str) -> anyhow::Result<Root> {
    let mut root = Root::new();
    let mut missing = BTreeSet::new();
    for clause in deb822::relations(installed, arch)
        .map_err(|e| super::Refusal(format!("the .buildinfo's Installed-Build-Depends: {e}")))?
    {
        let [rel] = &clause[..] else {
            return refuse("the .buildinfo's Installed-Build-Depends has an alternative (|)");
        };
        let Some(("=", version)) = rel.constraint.as_ref().map(|(o, v)| (o.as_str(), v)) else {
            return refuse(format!(
                "the .buildinfo's Installed-Build-Depends gives {} without an exact (= version)",
                rel.name
            ));
        };
        match archive.exact(&rel.name, version) {
            Some(b) => {
                root.insert(b.name.clone(), b.clone());
            }
            None => {
                missing.insert(format!("{} (= {version})", rel.name));
            }
        }
    }
    if !missing.is_empty() {
        let n = missing.len();
        let list: Vec<_> = missing.into_iter().take(12).collect();
        return refuse(format!(
            "inputs unavailable: the suite no longer has {n} of the exact versions the .buildinfo's Installed-Build-Depends name ({}{}); an archive of old versions (snapshot.debian.org) would, this mirror does not, and reprove does not substitute other versions",
            list.join(", "),
            if n > 12 { ", …" } else { "" }
        ));
    }
    let extras = ROOT_EXTRAS
        .iter()
        .map(|n| (plain(n), "reprove's root".to_owned()))
        .collect();
    close(archive, &mut root, extras, arch)?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\nFilename: pool/{name}_{version}.deb\nSHA256: {}\n{extra}\n",
            "00".repeat(32)
        )
    }

    fn archive() -> Archive {
        let text = [
            pkg("base", "1", "Essential: yes\nPre-Depends: libc (>= 2)"),
            pkg("libc", "2.36", ""),
            pkg("libc", "1.0", ""),
            pkg("build-essential", "12", "Depends: gcc | clang, make"),
            pkg("gcc", "12", "Depends: libc (>= 2.30)"),
            pkg("make", "4.3", "Provides: make-any (= 4.3)"),
            pkg("debhelper", "13.11", "Provides: debhelper-compat (= 13)"),
            pkg("usr-is-merged", "37", ""),
            pkg("fakeroot", "1.31", "Depends: libc"),
        ]
        .join("\n");
        Archive::new(deb822::stanzas(&text), "amd64")
    }

    #[test]
    fn the_suite_root_closes_over_depends_with_first_alternatives_and_provides() {
        let a = archive();
        let deps = deb822::relations("debhelper-compat (= 13), make-any", "amd64").unwrap();
        let root = from_suite(&a, deps, "amd64").unwrap();
        let names: Vec<&str> = root.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "base",
                "build-essential",
                "debhelper",
                "fakeroot",
                "gcc",
                "libc",
                "make",
                "usr-is-merged"
            ]
        );
        assert_eq!(root["libc"].version, "2.36");
        let bad = deb822::relations("debhelper-compat (= 12)", "amd64").unwrap();
        let err = from_suite(&a, bad, "amd64").unwrap_err().to_string();
        assert!(
            err.contains("nothing satisfies debhelper-compat (= 12)"),
            "{err}"
        );
    }

    #[test]
    fn a_buildinfo_root_is_exact_or_refused() {
        let a = archive();
        let root = from_buildinfo(&a, "\nlibc (= 1.0),\n gcc (= 12)", "amd64").unwrap();
        assert_eq!(root["libc"].version, "1.0");
        assert!(root.contains_key("fakeroot") && root.contains_key("usr-is-merged"));
        let err = from_buildinfo(&a, "libc (= 0.9), gcc (= 12), make (>= 1)", "amd64")
            .unwrap_err()
            .to_string();
        assert!(err.contains("without an exact"), "{err}");
        let err = from_buildinfo(&a, "libc (= 0.9), gcc (= 12)", "amd64")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("libc (= 0.9)") && err.contains("inputs unavailable"),
            "{err}"
        );
    }
}
