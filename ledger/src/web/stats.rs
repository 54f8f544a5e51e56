//! Figures over many entries — the rebuilders, a rebuilder's record, attestations per day —
//! each read from the indexes with a bound on the work, so a page stays fast at any log size.
//! Where a figure is cut at its bound, the view says so (`capped`).

use std::collections::HashMap;

use serde::Serialize;

use reprove_verifier::note::NoteVerifier;

use super::model::{AttestationView, RevocationView, Revocations, SignerView, Site};
use crate::error::Error;
use crate::index::IndexKey;
use crate::storage::cf;

/// The most records one count walks before it says "at least".
pub(crate) const COUNT_CAP: usize = 10_000;

/// How many entries signed under a key ID (or notices revoking it) a key ID is resolved from.
pub(crate) const KEY_ID_WINDOW: usize = 100;

/// How many of a rebuilder's latest attestations its agreement rate weighs.
pub(crate) const AGREEMENT_WINDOW: usize = 50;

/// A number that may have been cut at a bound.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct Count {
    pub(crate) count: usize,
    /// True when there are at least `count` (the walk stopped at its bound).
    pub(crate) capped: bool,
}

impl Count {
    pub(crate) fn label(&self) -> String {
        if self.capped {
            format!("{}+", self.count)
        } else {
            self.count.to_string()
        }
    }
}

/// One day's attestations, and how many of them report `reproduced` and `mismatch`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DayCount {
    pub(crate) day: String,
    pub(crate) attestations: Count,
    pub(crate) reproduced: Count,
    pub(crate) mismatches: Count,
}

/// A rebuilder's record.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RebuilderView {
    pub(crate) key: SignerView,
    pub(crate) attestations: Count,
    /// Results among the latest [`AGREEMENT_WINDOW`] attestations.
    pub(crate) recent_results: Vec<(String, usize)>,
    pub(crate) mismatches_reported: usize,
    /// Pairs (this key's attestation, another key's attestation of the same release), both
    /// `reproduced` or `mismatch`, over the latest attestations.
    pub(crate) compared: usize,
    pub(crate) agreed: usize,
    /// `agreed / compared` as a percentage, when anything was compared.
    pub(crate) agreement_percent: Option<u32>,
    pub(crate) revoked: bool,
    pub(crate) revocations: Vec<RevocationView>,
}

impl Site {
    /// Counts the records under `key`, walking at most [`COUNT_CAP`].
    pub(crate) fn count(&self, key: &IndexKey) -> Result<Count, Error> {
        self.walk(&key.prefix(), &key.prefix(), |_| {})
    }

    /// Walks the records under `prefix` from `from` on, at most [`COUNT_CAP`], calling `each`
    /// with each record's log index; returns how many there were.
    fn walk(&self, prefix: &[u8], from: &[u8], mut each: impl FnMut(u64)) -> Result<Count, Error> {
        let mut count = 0;
        for record in self.ledger.store().scan(cf::INDEX, from)? {
            let (k, _) = record?;
            if !k.starts_with(prefix) {
                break;
            }
            if count == COUNT_CAP {
                return Ok(Count {
                    count,
                    capped: true,
                });
            }
            count += 1;
            // Every record is `prefix || index BE`.
            if let Some(tail) = k.len().checked_sub(8).and_then(|at| k.get(at..))
                && let Ok(bytes) = <[u8; 8]>::try_from(tail)
            {
                each(u64::from_be_bytes(bytes));
            }
        }
        Ok(Count {
            count,
            capped: false,
        })
    }

    /// Rebuild attestations per day for the `days` days ending with `today` (newest first),
    /// how many of them report `reproduced` (the day's own records) and `mismatch` (the
    /// mismatch records from the days' oldest index on), each walk bounded by [`COUNT_CAP`].
    /// A day's mismatch count is `capped` when either walk was.
    pub(crate) fn per_day(&self, today: u32, days: u32) -> Result<Vec<DayCount>, Error> {
        let mut out = Vec::new();
        let mut day_of: HashMap<u64, usize> = HashMap::new();
        for day in (0..days).filter_map(|back| today.checked_sub(back)) {
            let key = IndexKey::RebuildDay(day);
            let at = out.len();
            let attestations = self.walk(&key.prefix(), &key.prefix(), |i| {
                day_of.insert(i, at);
            })?;
            out.push(DayCount {
                day: crate::time::day_string(day),
                attestations,
                reproduced: self.count(&IndexKey::ReproducedDay(day))?,
                mismatches: Count {
                    count: 0,
                    capped: attestations.capped,
                },
            });
        }
        let Some(&oldest) = day_of.keys().min() else {
            return Ok(out);
        };
        let prefix = IndexKey::Mismatches.prefix();
        let mut from = prefix.clone();
        from.extend_from_slice(&oldest.to_be_bytes());
        let walked = self.walk(&prefix, &from, |i| {
            if let Some(&at) = day_of.get(&i) {
                out[at].mismatches.count += 1;
            }
        })?;
        if walked.capped {
            for d in &mut out {
                d.mismatches.capped = true;
            }
        }
        Ok(out)
    }

    /// The distinct rebuilder keys after `after` (exclusive, in key order), at most `limit`,
    /// and whether there are more. One seek per key: the index holds each key's records
    /// together, and the walk jumps over them.
    pub(crate) fn rebuilder_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), Error> {
        let kind = IndexKey::Rebuilder(String::new()).prefix()[0];
        let mut from = match after {
            Some(a) => past(&IndexKey::Rebuilder(a.to_owned())),
            None => vec![kind],
        };
        let mut keys = Vec::new();
        loop {
            let Some(record) = self.ledger.store().scan(cf::INDEX, &from)?.next() else {
                return Ok((keys, false));
            };
            let (k, _) = record?;
            if k.first() != Some(&kind) {
                return Ok((keys, false));
            }
            let (key, _) = IndexKey::parse_record(&k)?;
            if keys.len() == limit {
                return Ok((keys, true));
            }
            from = past(&key);
            if let IndexKey::Rebuilder(s) = key {
                keys.push(s);
            }
        }
    }

    /// The rebuilder keys whose key ID is `key_id` (at most a few; IDs are 4 bytes).
    pub(crate) fn rebuilders_with_id(&self, key_id: &str) -> Result<Vec<String>, Error> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        // Bounded: rebuilders are operators, not users; 100 pages of 100 is plenty.
        for _ in 0..100 {
            let (keys, more) = self.rebuilder_keys(after.as_deref(), 100)?;
            for k in &keys {
                if NoteVerifier::parse(k).is_ok_and(|v| format!("{:08x}", v.key_id()) == key_id) {
                    found.push(k.clone());
                }
            }
            if !more {
                break;
            }
            after = keys.last().cloned();
        }
        Ok(found)
    }

    /// The keys with ID `key_id` that signed one of the latest [`KEY_ID_WINDOW`] entries
    /// signed under that ID, or that one of the latest notices revoking that ID names.
    pub(crate) fn keys_with_id(&self, key_id: &str) -> Result<Vec<String>, Error> {
        let mut found = std::collections::BTreeSet::new();
        let (signed, _) = self.page(&IndexKey::Signer(key_id.to_owned()), None, KEY_ID_WINDOW)?;
        for i in signed {
            for k in &self.decoded(i)?.signers {
                if format!("{:08x}", k.key_id()) == key_id {
                    found.insert(k.to_string());
                }
            }
        }
        let (notices, _) = self.page(
            &IndexKey::RevokedKey(key_id.to_owned()),
            None,
            KEY_ID_WINDOW,
        )?;
        for i in notices {
            if let Some(n) = self.revocation(&*self.decoded(i)?)
                && n.revoked_key_id == key_id
            {
                found.insert(n.revoked_key);
            }
        }
        Ok(found.into_iter().collect())
    }

    /// A rebuilder's record: counts, its latest results, how often it agrees with others.
    pub(crate) fn rebuilder(&self, key: &NoteVerifier) -> Result<RebuilderView, Error> {
        let index_key = IndexKey::Rebuilder(key.to_string());
        let attestations = self.count(&index_key)?;
        let (latest, _) = self.page(&index_key, None, AGREEMENT_WINDOW)?;
        let mut revoked = Revocations::default();
        let mut results: Vec<(String, usize)> = Vec::new();
        let (mut compared, mut agreed, mut mismatches) = (0, 0, 0);
        let me = key.to_string();
        for i in latest {
            let d = self.decoded(i)?;
            let Some(mine) = self.attestation(&d, &mut revoked)? else {
                continue;
            };
            match results.iter_mut().find(|(r, _)| r == mine.result) {
                Some((_, n)) => *n += 1,
                None => results.push((mine.result.to_owned(), 1)),
            }
            if mine.result == "mismatch" {
                mismatches += 1;
            }
            if !conclusive(&mine) {
                continue;
            }
            let Some((_, others)) = self.release(mine.release_index)? else {
                continue;
            };
            for other in others
                .iter()
                .filter(|o| conclusive(o) && !o.signers.iter().any(|s| s.vkey == me))
            {
                compared += 1;
                if other.result == mine.result {
                    agreed += 1;
                }
            }
        }
        let revocations = self.notices_of(key)?;
        Ok(RebuilderView {
            key: SignerView::of(key),
            attestations,
            recent_results: results,
            mismatches_reported: mismatches,
            compared,
            agreed,
            agreement_percent: (compared > 0)
                .then(|| u32::try_from(agreed * 100 / compared).unwrap_or(100)),
            // Judged from all of the key's own notices (a scoped lookup), not from the newest
            // few anyone logged about it.
            revoked: revoked.effective(self, key)?.is_some(),
            revocations,
        })
    }
}

fn conclusive(a: &AttestationView) -> bool {
    matches!(a.result, "reproduced" | "mismatch")
}

/// The first stored record after every record of `key`.
fn past(key: &IndexKey) -> Vec<u8> {
    let mut from = key.prefix();
    from.extend_from_slice(&[0xff; 9]);
    from
}
