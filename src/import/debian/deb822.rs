//! Debian control data (deb822, deb-control(5)): stanzas of `Field: value` lines, versions
//! compared as dpkg compares them (deb-version(7)), and package relationships
//! (`a (>= 1) | b, c:any [amd64] <!nocheck>`).

use std::cmp::Ordering;

/// One stanza: its fields in order, names as written, values with continuation lines joined by
/// `\n` (each without its one leading space).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza(pub Vec<(String, String)>);

impl Stanza {
    /// A field's value; field names compare case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Every stanza of `text` (blank lines separate stanzas; `#` comment lines are skipped).
pub fn stanzas(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.0.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.0.last_mut() {
                v.push('\n');
                v.push_str(&line[1..]);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.0.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !cur.0.is_empty() {
        out.push(cur);
    }
    out
}

/// The lines of a multi-line field (`Checksums-Sha256`, `Installed-Build-Depends`…), without
/// the empty first line.
pub fn field_lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// Compares two Debian versions (`[epoch:]upstream[-revision]`) as dpkg does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_version(a);
    let (eb, ub, rb) = split_version(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

fn split_version(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// The sort weight of one non-digit character: `~` before everything (even the end), then the
/// end, then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // The non-digit prefixes, character by character.
        loop {
            let (ca, cb) = (a.first().copied(), b.first().copied());
            let da = ca.is_none_or(|c| c.is_ascii_digit());
            let db = cb.is_none_or(|c| c.is_ascii_digit());
            if da && db {
                break;
            }
            let (wa, wb) = (
                if da { 0 } else { weight(ca) },
                if db { 0 } else { weight(cb) },
            );
            if wa != wb {
                return wa.cmp(&wb);
            }
            a = &a[usize::from(!da)..];
            b = &b[usize::from(!db)..];
        }
        // The digit runs, as numbers.
        let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let (da, db) = (trim_zeros(&a[..na]), trim_zeros(&b[..nb]));
        let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    Ordering::Equal
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n..]
}

/// One alternative of a relationship: `name[:archqual] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The package name.
    pub name: String,
    /// `(op, version)`, op one of `<<`, `<=`, `=`, `>=`, `>>`.
    pub constraint: Option<(String, String)>,
}

impl Relation {
    /// Whether `version` satisfies the constraint.
    pub fn allows(&self, version: &str) -> bool {
        let Some((op, want)) = &self.constraint else {
            return true;
        };
        let ord = compare_versions(version, want);
        match op.as_str() {
            "<<" => ord == Ordering::Less,
            "<=" | "<" => ord != Ordering::Greater,
            "=" => ord == Ordering::Equal,
            ">=" | ">" => ord != Ordering::Less,
            ">>" => ord == Ordering::Greater,
            _ => false,
        }
    }
}

/// Parses a relationship field into its clauses (`,`), each a list of alternatives (`|`).
/// Alternatives restricted to other architectures (`[!amd64]`, `[i386]`) or to build profiles
/// (`<!nocheck>`: reprove builds with no profile) are dropped; so is a clause left empty.
pub fn relations(field: &str, arch: &str) -> Result<Vec<Vec<Relation>>, String> {
    let mut out = Vec::new();
    for clause in field.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let mut alts = Vec::new();
        for alt in clause.split('|').map(str::trim) {
            if let Some(rel) = relation(alt, arch)? {
                alts.push(rel);
            }
        }
        if !alts.is_empty() {
            out.push(alts);
        }
    }
    Ok(out)
}

fn relation(alt: &str, arch: &str) -> Result<Option<Relation>, String> {
    let bad = || format!("{alt:?} is not a package relationship");
    let mut rest = alt;
    let after = rest.rfind(')').map_or(0, |i| i + 1);
    if let Some(i) = rest[after..].find('<').map(|i| i + after) {
        // Build profiles: reprove builds with none, so `<!x>` holds and `<x>` does not.
        let profiles = &rest[i..];
        rest = &rest[..i];
        if profiles
            .split('<')
            .filter(|g| !g.trim().is_empty())
            .all(|g| g.split_whitespace().any(|t| !t.starts_with('!')))
        {
            return Ok(None);
        }
    }
    if let Some(i) = rest.find('[') {
        let list = rest[i + 1..].split(']').next().unwrap_or_default();
        rest = &rest[..i];
        let names: Vec<&str> = list.split_whitespace().collect();
        let negated = names.iter().all(|n| n.starts_with('!'));
        let listed = names.iter().any(|n| {
            let n = n.trim_start_matches('!');
            n == arch || n == "any" || n == "linux-any" || n.strip_prefix("any-") == Some(arch)
        });
        if negated == listed {
            return Ok(None);
        }
    }
    let (name_part, constraint) = match rest.split_once('(') {
        Some((n, c)) => {
            let c = c.trim().strip_suffix(')').ok_or_else(bad)?.trim();
            let op_len = c.find(|ch: char| !"<=>".contains(ch)).ok_or_else(bad)?;
            let (op, v) = c.split_at(op_len);
            if op.is_empty() || v.trim().is_empty() {
                return Err(bad());
            }
            (n, Some((op.to_owned(), v.trim().to_owned())))
        }
        None => (rest, None),
    };
    let name = name_part.trim();
    let name = name.split(':').next().unwrap_or_default();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(Some(Relation {
        name: name.to_owned(),
        constraint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_dpkg_does() {
        for (a, b) in [
            ("1.0", "1.0~rc1"),
            ("1.0-1", "1.0"),
            ("2:1.0", "1:9.9"),
            ("1.10", "1.9"),
            ("1.0a", "1.0"),
            ("1.0+b1", "1.0"),
            ("2.36.1-8+deb12u1", "2.36.1-8"),
            ("12.2.0-14+deb12u1", "12.2.0-14"),
            ("1.0-1", "1.0-0.1"),
        ] {
            assert_eq!(compare_versions(a, b), Ordering::Greater, "{a} > {b}");
            assert_eq!(compare_versions(b, a), Ordering::Less, "{b} < {a}");
        }
        assert_eq!(compare_versions("0:1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(compare_versions("1.01", "1.1"), Ordering::Equal);
    }

    #[test]
    fn relationships_parse_with_arches_and_profiles() {
        let r = relations(
            "debhelper-compat (= 13), libc6-dev [!hurd-i386] | libc-dev, python3:any, foo [i386], bar (<< 2) <!nocheck>, baz <nocheck>, q [linux-any]",
            "amd64",
        )
        .unwrap();
        let names: Vec<Vec<&str>> = r
            .iter()
            .map(|c| c.iter().map(|a| a.name.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["debhelper-compat"],
                vec!["libc6-dev", "libc-dev"],
                vec!["python3"],
                vec!["bar"],
                vec!["q"]
            ]
        );
        assert!(r[0][0].allows("13"));
        assert!(!r[0][0].allows("12"));
        assert!(relations("foo (>= )", "amd64").is_err());
    }

    #[test]
    fn stanzas_split_and_fold() {
        let s = stanzas("A: 1\nB:\n x\n y\n\n\nA: 2\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].get("b"), Some("\nx\ny"));
        assert_eq!(
            field_lines(s[0].get("B").unwrap()).collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert_eq!(s[1].get("A"), Some("2"));
    }
}
