//! Revocation by validity: where each key stands after every notice, whatever their order.

use super::verdict::{IgnoredBecause, RefusedReplacement, Warning};
use super::*;

/// Where a key stands in the policy at a given log index.
#[derive(Debug, Clone)]
pub(super) struct KeyStanding {
    pub(super) operator: String,
    /// Attestations at indices >= this are rejected; `None`: not revoked.
    pub(super) revoked: Option<(u64, u64, RevocationReason)>, // (notice index, effective index, reason)
    /// For replacement keys: valid only after this notice index.
    pub(super) valid_after: Option<u64>,
}

/// Resolves which keys the policy trusts, for which operator, and from when to when, after
/// applying every revocation notice (and rotation) among `entries`.
///
/// A notice applies when it is signed by the revoked key itself or by the recovery key of the
/// operator that holds it. Several notices for one key: the earliest effective index wins.
/// A `compromised` notice cannot take effect after its own index (a compromise is not
/// scheduled); `retired` and `superseded` may name a later index. Rotation: a `superseded`
/// notice naming a replacement adds that key to the operator, valid after the notice, if the
/// policy allows rotation for the operator. Chains of replacements are followed.
pub(super) fn key_standing(
    policy: &Policy,
    entries: &[LoggedEntry],
    v: &mut Verdict,
) -> BTreeMap<String, KeyStanding> {
    // Revocation by validity, not by order. A notice about key R applies when R is the policy's
    // (or a replacement that was validly introduced) and it is signed by R itself or by R's
    // operator's recovery key. Applying a notice only ever takes trust away, so every applicable
    // notice revokes R, and R's effective index is the earliest any of them gives. A notice that
    // *grants* something — a replacement key — counts only when signed by the recovery key, or
    // by R at an index where no *other* applicable notice has already revoked R: a thief holding
    // a revoked key cannot rotate it to their own, and a back-dated `compromised` notice voids
    // every rotation R signed from then on, and, transitively, whatever those replacements
    // introduced. Since a notice about R is signed only by R or a recovery key, R's effective
    // index depends on the notices about R alone, so the standings are computed without regard
    // to the order of the log.
    let notices = notices(entries);
    let mut standing = trusted_keys(policy, &notices, v);
    apply(policy, &notices, &mut standing, v);
    standing
}

/// A revocation notice with its key in one spelling and its effective index.
struct Notice<'a> {
    e: &'a LoggedEntry,
    n: &'a crate::predicates::RevocationNotice,
    revoked: String,
    effective: u64,
}

impl Notice<'_> {
    /// Whether the notice could apply to its key, given the key's operator: signed by the key
    /// itself or by the operator's recovery key.
    fn signed_right(&self, op: &Operator) -> bool {
        let signer = self.e.signer.to_string();
        signer == self.revoked
            || op
                .recovery_key
                .as_ref()
                .is_some_and(|r| r.to_string() == signer)
    }
}

/// Every revocation notice among `entries`, in log order, each effective from
/// [`RevocationNotice::effective_from`](crate::predicates::RevocationNotice::effective_from).
fn notices(entries: &[LoggedEntry]) -> Vec<Notice<'_>> {
    let mut notices: Vec<Notice> = entries
        .iter()
        .filter_map(|e| match e.entry.kind() {
            EntryKind::Revocation(n) => Some(Notice {
                e,
                n,
                revoked: canonical_vkey(&n.revoked_key).unwrap_or_else(|| n.revoked_key.clone()),
                effective: n.effective_from(e.index),
            }),
            _ => None,
        })
        .collect();
    notices.sort_by_key(|x| x.e.index);
    notices
}

/// The keys the policy trusts: its own, then replacements introduced by valid grants, breadth
/// first (each key once; a replacement's validity starts after its grant). Not yet revoked:
/// [`apply`] does that.
fn trusted_keys(
    policy: &Policy,
    notices: &[Notice],
    v: &mut Verdict,
) -> BTreeMap<String, KeyStanding> {
    let mut standing: BTreeMap<String, KeyStanding> = BTreeMap::new();
    let mut queue: Vec<(String, &Operator, Option<u64>)> = Vec::new();
    for o in &policy.operators {
        for k in &o.keys {
            queue.push((k.to_string(), o, None));
        }
    }
    let mut refused: Vec<Warning> = Vec::new();
    while !queue.is_empty() {
        // Take the earliest-valid key first, so a key named twice gets its earliest grant.
        queue.sort_by_key(|(_, _, after)| std::cmp::Reverse(after.map_or(0, |a| a + 1)));
        let (key, op, valid_after) = queue.pop().expect("not empty");
        if standing.contains_key(&key) {
            continue;
        }
        standing.insert(
            key.clone(),
            KeyStanding {
                operator: op.name.clone(),
                revoked: None,
                valid_after,
            },
        );
        for (i, x) in notices.iter().enumerate() {
            if x.revoked != key || !x.signed_right(op) {
                continue;
            }
            match grant(policy, notices, i, &key, op, valid_after) {
                Grant::None => {}
                Grant::NotAllowed(why) => v.warnings.push(why),
                Grant::Refused(why) => refused.push(why),
                Grant::Key(new) => queue.push((new, op, Some(x.e.index))),
            }
        }
    }
    v.warnings.extend(refused);
    standing
}

/// What a notice about a trusted key grants.
enum Grant {
    /// No replacement named.
    None,
    /// The policy does not allow rotation for the operator.
    NotAllowed(Warning),
    /// A replacement that does not count, and why.
    Refused(Warning),
    /// A replacement key that joins the operator.
    Key(String),
}

/// Whether notice `i` (about `key`, of operator `op`, valid after `valid_after`) introduces a
/// replacement: signed by the recovery key, or by the key at an index where no other
/// applicable notice had revoked it and it was valid; naming no key of another operator.
fn grant(
    policy: &Policy,
    notices: &[Notice],
    i: usize,
    key: &str,
    op: &Operator,
    valid_after: Option<u64>,
) -> Grant {
    let x = &notices[i];
    let Some(new) = x.n.replacement.as_deref().and_then(canonical_vkey) else {
        return Grant::None;
    };
    if !op.allow_rotation {
        return Grant::NotAllowed(Warning::RotationNotAllowed {
            index: x.e.index,
            replacement: new,
            operator: op.name.clone(),
        });
    }
    let by_recovery = x.e.signer.to_string() != key;
    // The earliest effective index of the other notices about `key` that apply.
    let revoked_before = notices
        .iter()
        .enumerate()
        .filter(|(j, y)| *j != i && y.revoked == key && y.signed_right(op))
        .map(|(_, y)| y.effective)
        .min()
        .filter(|&eff| eff <= x.e.index);
    let too_early = valid_after.is_some_and(|a| x.e.index <= a);
    if !by_recovery && (revoked_before.is_some() || too_early) {
        let signer = key.to_owned();
        return Grant::Refused(Warning::ReplacementRefused {
            index: x.e.index,
            replacement: new,
            why: match revoked_before {
                Some(effective) => RefusedReplacement::SignerRevoked { signer, effective },
                None => RefusedReplacement::SignerNotYetValid { signer },
            },
        });
    }
    let elsewhere = policy
        .operators
        .iter()
        .any(|o| o.name != op.name && o.keys.iter().any(|k| k.to_string() == new));
    if elsewhere {
        return Grant::Refused(Warning::ReplacementRefused {
            index: x.e.index,
            replacement: new,
            why: RefusedReplacement::OtherOperatorsKey,
        });
    }
    Grant::Key(new)
}

/// Every applicable notice revokes its key (the earliest effective index wins); each is
/// reported, and the rest as ignored.
fn apply(
    policy: &Policy,
    notices: &[Notice],
    standing: &mut BTreeMap<String, KeyStanding>,
    v: &mut Verdict,
) {
    for x in notices {
        let op = standing
            .get(&x.revoked)
            .and_then(|st| policy.operators.iter().find(|o| o.name == st.operator));
        let Some(op) = op.filter(|op| x.signed_right(op)) else {
            let why = if standing.contains_key(&x.revoked) {
                IgnoredBecause::WrongSigner {
                    signer: x.e.signer.to_string(),
                }
            } else {
                IgnoredBecause::KeyNotInPolicy
            };
            v.ignored_revocations.push(IgnoredRevocation {
                index: x.e.index,
                key: x.revoked.clone(),
                why,
            });
            continue;
        };
        let st = standing.get_mut(&x.revoked).expect("looked up above");
        match st.revoked {
            Some((_, eff, _)) if eff <= x.effective => {}
            _ => st.revoked = Some((x.e.index, x.effective, x.n.reason)),
        }
        let replacement =
            x.n.replacement
                .as_deref()
                .and_then(canonical_vkey)
                .filter(|new| {
                    standing
                        .get(new)
                        .is_some_and(|s| s.valid_after == Some(x.e.index) && s.operator == op.name)
                });
        v.revocations.push(AppliedRevocation {
            index: x.e.index,
            key: x.revoked.clone(),
            operator: op.name.clone(),
            reason: x.n.reason,
            effective_index: x.effective,
            replacement,
        });
    }
}

/// A vkey in its one canonical spelling, so keys compare as strings.
pub(super) fn canonical_vkey(vkey: &str) -> Option<String> {
    NoteVerifier::parse(vkey).ok().map(|k| k.to_string())
}
