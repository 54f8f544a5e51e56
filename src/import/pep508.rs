//! Just enough of PEP 440 (versions, specifiers) and PEP 508 (requirements, markers) to pin
//! the requires of a build backend: final releases compared by their numeric release
//! segments; markers with `and`/`or` (no parentheses) over the variables of one fixed target
//! Python. What this does not understand is an error, never a silent yes.

use std::cmp::Ordering;

/// The Python the recipes' toolchain runs (the rebuilder's host `/usr`: Debian 12's python3).
pub const TARGET_PYTHON: &str = "3.11";
const TARGET_PYTHON_FULL: &str = "3.11.2";

/// A final release version: its numeric release segments (`1.2.0` = `[1, 2, 0]`); trailing
/// zeros do not count (`1.0` = `1.0.0`).
#[derive(Debug, Clone)]
pub struct Release(pub Vec<u64>);

impl PartialEq for Release {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Release {}

impl Release {
    /// Parses a final release (`N(.N)*`, an optional `v`, an optional `.postN` ignored for
    /// ordering). Pre-releases, dev releases and local versions are `None`.
    pub fn parse(v: &str) -> Option<Release> {
        let v = v.trim().trim_start_matches('v');
        let v = v.split_once(".post").map_or(v, |(a, _)| a);
        let parts: Option<Vec<u64>> = v.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty()).map(Release)
    }

    /// The release segments of any version in a specifier (`2.5.0.dev0` → `2.5.0`): a bound
    /// is compared by its release, so `>=2.5.0.dev0` admits 2.5.0.
    pub fn parse_bound(v: &str) -> Option<Release> {
        let v = v.trim().trim_start_matches('v');
        let parts: Vec<u64> = v
            .split('.')
            .map_while(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                let whole = digits.len() == p.len();
                let n = digits.parse().ok()?;
                Some((n, whole))
            })
            .scan(true, |go, (n, whole)| {
                let keep = *go;
                *go = whole;
                keep.then_some(n)
            })
            .collect();
        (!parts.is_empty()).then_some(Release(parts))
    }

    fn cmp_padded(&self, other: &Release) -> Ordering {
        let n = self.0.len().max(other.0.len());
        for i in 0..n {
            let (a, b) = (
                self.0.get(i).copied().unwrap_or(0),
                other.0.get(i).copied().unwrap_or(0),
            );
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Release {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_padded(other)
    }
}

/// A requirement: a name, its version specifiers (`>=1,<2`), and whether its marker holds
/// for [`TARGET_PYTHON`] without extras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The project name as written.
    pub name: String,
    /// The specifiers, `op version` each.
    pub specifiers: Vec<(String, String)>,
    /// Whether it applies to the target (its marker holds, and it asks for no extra).
    pub applies: bool,
}

/// Parses `name[extras] (specs) ; marker` (PEP 508, without URLs).
pub fn requirement(text: &str) -> Result<Requirement, String> {
    let (req, marker) = match text.split_once(';') {
        Some((r, m)) => (r.trim(), Some(m.trim())),
        None => (text.trim(), None),
    };
    if req.contains('@') {
        return Err(format!(
            "{text:?}: a direct URL requirement cannot be pinned"
        ));
    }
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        .unwrap_or(req.len());
    let name = req[..end].to_owned();
    if name.is_empty() {
        return Err(format!("{text:?}: no project name"));
    }
    let mut rest = req[end..].trim();
    if rest.starts_with('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("{text:?}: unclosed extras"))?;
        rest = rest[close + 1..].trim();
    }
    let rest = rest.trim_start_matches('(').trim_end_matches(')').trim();
    let mut specifiers = Vec::new();
    for spec in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let op_end = spec
            .find(|c: char| !"<>=!~".contains(c))
            .ok_or_else(|| format!("{text:?}: bad specifier {spec:?}"))?;
        let (op, v) = spec.split_at(op_end);
        if !["==", "!=", "<=", ">=", "<", ">", "~="].contains(&op) {
            return Err(format!("{text:?}: unsupported specifier {spec:?}"));
        }
        specifiers.push((op.to_owned(), v.trim().to_owned()));
    }
    let applies = match marker {
        None => true,
        Some(m) => marker_holds(m)?,
    };
    Ok(Requirement {
        name,
        specifiers,
        applies,
    })
}

/// Whether `version` satisfies every specifier.
pub fn satisfies(version: &Release, specifiers: &[(String, String)]) -> Result<bool, String> {
    for (op, v) in specifiers {
        let ok = if let Some(prefix) = v.strip_suffix(".*") {
            let p = Release::parse(prefix).ok_or_else(|| format!("bad version {v:?}"))?;
            let matches = version.0.len() >= p.0.len() && version.0[..p.0.len()] == p.0[..];
            match op.as_str() {
                "==" => matches,
                "!=" => !matches,
                _ => return Err(format!("{op}{v}: a wildcard only goes with == or !=")),
            }
        } else {
            let want = Release::parse_bound(v).ok_or_else(|| format!("bad version {v:?}"))?;
            match op.as_str() {
                "==" => version.cmp(&want) == Ordering::Equal,
                "!=" => version.cmp(&want) != Ordering::Equal,
                "<=" => version <= &want,
                ">=" => version >= &want,
                "<" => version < &want,
                ">" => version > &want,
                "~=" => {
                    let mut upper = want.0.clone();
                    if upper.len() < 2 {
                        return Err(format!("~={v} needs two release segments"));
                    }
                    upper.pop();
                    let last = upper.len() - 1;
                    upper[last] += 1;
                    version >= &want && version < &Release(upper)
                }
                _ => return Err(format!("unsupported operator {op}")),
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Evaluates a marker for the target Python, without extras (`extra == "x"` is false).
fn marker_holds(marker: &str) -> Result<bool, String> {
    // A requirement only for an extra is never installed: build dependencies take no extras.
    if marker.contains("extra") {
        return Ok(false);
    }
    // Innermost parentheses first, each replaced by its value.
    let mut m = marker.to_owned();
    while let Some(open) = m.rfind('(') {
        let close = m[open..]
            .find(')')
            .map(|i| open + i)
            .ok_or_else(|| format!("marker {marker:?}: unbalanced parentheses"))?;
        let value = flat_marker_holds(&m[open + 1..close])?;
        m.replace_range(open..=close, if value { "__true__" } else { "__false__" });
    }
    if m.contains(')') {
        return Err(format!("marker {marker:?}: unbalanced parentheses"));
    }
    flat_marker_holds(&m)
}

/// A marker without parentheses: `or` of `and`s of atoms.
fn flat_marker_holds(marker: &str) -> Result<bool, String> {
    let mut any = false;
    for alt in marker.split(" or ") {
        let mut all = true;
        for atom in alt.split(" and ") {
            all &= atom_holds(atom.trim())?;
        }
        any |= all;
    }
    Ok(any)
}

fn atom_holds(atom: &str) -> Result<bool, String> {
    match atom {
        "__true__" => return Ok(true),
        "__false__" => return Ok(false),
        _ => {}
    }
    let ops = [
        "===", "==", "!=", "<=", ">=", "~=", "<", ">", " not in ", " in ",
    ];
    let (op, at) = ops
        .iter()
        .filter_map(|op| atom.find(op).map(|i| (*op, i)))
        .min_by_key(|(op, i)| (*i, usize::MAX - op.len()))
        .ok_or_else(|| format!("marker {atom:?}: no operator"))?;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
    let (lhs, rhs) = (unquote(&atom[..at]), unquote(&atom[at + op.len()..]));
    let var = |name: &str| -> Option<&'static str> {
        Some(match name {
            "python_version" => TARGET_PYTHON,
            "python_full_version" => TARGET_PYTHON_FULL,
            "sys_platform" => "linux",
            "platform_system" => "Linux",
            "os_name" => "posix",
            "platform_python_implementation" => "CPython",
            "implementation_name" => "cpython",
            "platform_machine" => "x86_64",
            _ => return None,
        })
    };
    if lhs == "extra" || rhs == "extra" {
        return Ok(false);
    }
    let (value, literal, versioned) = match (var(&lhs), var(&rhs)) {
        (Some(v), None) => (v.to_owned(), rhs, lhs.starts_with("python")),
        _ => return Err(format!("marker {atom:?} is not understood")),
    };
    let op = op.trim();
    if versioned && !["in", "not in"].contains(&op) {
        let v = Release::parse(&value).ok_or("bad target version")?;
        return satisfies(&v, &[(op.to_owned(), literal)]);
    }
    Ok(match op {
        "==" | "===" => value == literal,
        "!=" => value != literal,
        "in" => literal.contains(value.as_str()),
        "not in" => !literal.contains(value.as_str()),
        _ => return Err(format!("marker {atom:?}: {op} on a string")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_parse_and_markers_hold_for_the_target() {
        let r = requirement("pluggy>=1.0.0").unwrap();
        assert_eq!(r.name, "pluggy");
        assert_eq!(r.specifiers, [(">=".into(), "1.0.0".into())]);
        assert!(r.applies);
        assert!(
            !requirement("tomli>=1.2.2; python_version < '3.11'")
                .unwrap()
                .applies
        );
        assert!(
            requirement("x; python_version >= \"3.8\" and sys_platform == 'linux'")
                .unwrap()
                .applies
        );
        assert!(!requirement("pytest; extra == 'test'").unwrap().applies);
        assert_eq!(
            requirement("packaging (>=20.0)").unwrap().specifiers,
            [(">=".into(), "20.0".into())]
        );
        assert!(requirement("x; (a == 'b')").is_err());
        assert!(
            requirement(
                "x; (python_version >= '3.9' or os_name == 'nt') and sys_platform != 'cygwin'"
            )
            .unwrap()
            .applies
        );
        assert!(
            !requirement(
                "x; (python_version < '3.9' or os_name == 'nt') and sys_platform != 'cygwin'"
            )
            .unwrap()
            .applies
        );
        assert!(requirement("x @ https://e.org/x.whl").is_err());
    }

    #[test]
    fn specifiers_compare_release_segments() {
        let v = |s: &str| Release::parse(s).unwrap();
        let s = |t: &str| requirement(&format!("x{t}")).unwrap().specifiers;
        assert!(satisfies(&v("1.10"), &s(">=1.9,<2")).unwrap());
        assert!(!satisfies(&v("2.0"), &s(">=1.9,<2")).unwrap());
        assert!(satisfies(&v("1.4.5"), &s("~=1.4.2")).unwrap());
        assert!(!satisfies(&v("1.5"), &s("~=1.4.2")).unwrap());
        assert!(satisfies(&v("3.11.2"), &s("==3.11.*")).unwrap());
        assert_eq!(Release::parse("1.0rc1"), None);
        assert_eq!(Release::parse_bound("2.5.0.dev0"), Some(v("2.5.0")));
        assert_eq!(Release::parse_bound("1.0rc1"), Some(v("1.0")));
        assert!(satisfies(&v("2.5.0"), &s(">=2.5.0.dev0")).unwrap());
        assert!(v("1.0") == v("1.0.0"));
    }
}
