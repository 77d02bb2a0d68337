//! Resume bookkeeping: which parts of an upload are stored (with the ETags
//! that complete it), which presigned part URLs are still fresh and which to
//! sign next, and the fingerprints that prove a re-encrypted part unchanged.
//!
//! Nothing here is secret but [`Fingerprints`] (zeroized, never persisted);
//! [`PartLedger`] serializes, so a client can remember an upload across a
//! reload or a crash. It never holds a data key or plaintext.

use std::collections::{BTreeMap, BTreeSet};

use sealdrop_api::{
    CompleteUploadRequest, CompletedPart, MAX_SIGN_BATCH, PresignedPart, PresignedRequest,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use zeroize::Zeroizing;

use crate::plan::{PlanError, UploadPlan};

/// Times one part's URL is signed again after storage said it expired (a
/// clock far off, or a part much slower than the URLs' lifetime).
pub const MAX_RESIGNS: u32 = 3;

/// Why a part's outcome cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A part number outside the upload.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Storage answered a multipart part without a visible ETag.
    #[error(
        "storage did not show part {0}'s ETag to the client (a browser needs storage's CORS \
         configuration to expose the ETag header)"
    )]
    MissingEtag(u32),
    /// Completion was asked for with parts missing.
    #[error("part {0} is not stored yet")]
    Incomplete(u32),
}

/// Which parts of one upload storage has acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartLedger {
    part_count: u32,
    multipart: bool,
    /// Stored parts and their ETags (empty for a single PUT that showed none).
    stored: BTreeMap<u32, String>,
}

impl PartLedger {
    /// Nothing stored yet.
    pub fn new(plan: &UploadPlan) -> PartLedger {
        PartLedger {
            part_count: plan.part_count(),
            multipart: plan.is_multipart(),
            stored: BTreeMap::new(),
        }
    }

    fn check(&self, number: u32) -> Result<(), LedgerError> {
        if number == 0 || number > self.part_count {
            return Err(PlanError::PartNumber {
                number,
                count: self.part_count,
            }
            .into());
        }
        Ok(())
    }

    /// Records that storage acknowledged part `number` with `etag`. A
    /// multipart part needs its ETag to complete the upload.
    pub fn record(&mut self, number: u32, etag: Option<String>) -> Result<(), LedgerError> {
        self.check(number)?;
        let etag = match (etag, self.multipart) {
            (Some(etag), _) => etag,
            (None, false) => String::new(),
            (None, true) => return Err(LedgerError::MissingEtag(number)),
        };
        self.stored.insert(number, etag);
        Ok(())
    }

    /// Whether part `number` is stored.
    pub fn is_stored(&self, number: u32) -> bool {
        self.stored.contains_key(&number)
    }

    /// Parts not stored yet, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (1..=self.part_count).filter(|n| !self.stored.contains_key(n))
    }

    /// Every part is stored.
    pub fn is_complete(&self) -> bool {
        self.stored.len() == self.part_count as usize
    }

    /// Stored bytes acknowledged so far.
    pub fn stored_bytes(&self, plan: &UploadPlan) -> u64 {
        self.stored
            .keys()
            .filter_map(|n| plan.part(*n).ok())
            .map(|p| p.stored_len)
            .sum()
    }

    /// The `/uploads/complete` request, once every part is stored.
    pub fn completion(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<CompleteUploadRequest, LedgerError> {
        if let Some(missing) = self.missing().next() {
            return Err(LedgerError::Incomplete(missing));
        }
        Ok(CompleteUploadRequest {
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            parts: self
                .stored
                .iter()
                .map(|(number, etag)| CompletedPart {
                    part_number: *number,
                    etag: etag.clone(),
                })
                .collect(),
        })
    }
}

/// Presigned part URLs not used yet, with the time (ms, the caller's clock)
/// each stops being safe to start: its expiry minus a margin for the time the
/// part takes.
#[derive(Clone, Debug, Default)]
pub struct PartUrls {
    part_count: u32,
    usable_until: BTreeMap<u32, (PresignedRequest, f64)>,
}

impl PartUrls {
    /// An empty set for an upload of `part_count` parts.
    pub fn new(part_count: u32) -> PartUrls {
        PartUrls {
            part_count,
            usable_until: BTreeMap::new(),
        }
    }

    /// Adds URLs signed at `now_ms` that are valid for `ttl_ms`, to be used
    /// only until `margin_ms` before they expire. Refuses part numbers outside
    /// the upload.
    pub fn insert(
        &mut self,
        parts: Vec<PresignedPart>,
        now_ms: f64,
        ttl_ms: f64,
        margin_ms: f64,
    ) -> Result<(), PlanError> {
        for part in parts {
            if part.part_number == 0 || part.part_number > self.part_count {
                return Err(PlanError::PartNumber {
                    number: part.part_number,
                    count: self.part_count,
                });
            }
            self.usable_until.insert(
                part.part_number,
                (part.request, now_ms + ttl_ms - margin_ms),
            );
        }
        Ok(())
    }

    /// The URL for part `number` if it is still fresh at `now_ms` (it is
    /// handed out once).
    pub fn take(&mut self, number: u32, now_ms: f64) -> Option<PresignedRequest> {
        match self.usable_until.remove(&number) {
            Some((request, until)) if until > now_ms => Some(request),
            _ => None,
        }
    }

    /// Forgets part `number`'s URL (storage said it expired).
    pub fn forget(&mut self, number: u32) {
        self.usable_until.remove(&number);
    }

    /// What to sign for part `number`: it and the next parts of `pending`
    /// (ascending) that have no fresh URL at `now_ms`, at most `batch` (and the
    /// API's [`MAX_SIGN_BATCH`]). URLs are signed shortly before they are
    /// needed, so they are fresh when used.
    pub fn to_sign(
        &self,
        number: u32,
        pending: impl IntoIterator<Item = u32>,
        now_ms: f64,
        batch: u32,
    ) -> Vec<u32> {
        let batch = batch.clamp(1, MAX_SIGN_BATCH) as usize;
        let fresh = |n: &u32| {
            self.usable_until
                .get(n)
                .is_some_and(|(_, until)| *until > now_ms)
        };
        let mut numbers: BTreeSet<u32> = pending
            .into_iter()
            .filter(|n| *n > number && !fresh(n))
            .take(batch.saturating_sub(1))
            .collect();
        numbers.insert(number);
        numbers.into_iter().collect()
    }
}

/// Why a re-encrypted part may not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the file changed while it was uploaded (part {0} no longer has the bytes it had); \
     nothing more of it was sent — upload it again"
)]
pub struct Changed(pub u32);

/// The fingerprints of parts already encrypted under an upload's key: the
/// GHASH share (`T'`) of each segment, recorded the first time it is
/// encrypted and compared in constant time whenever it is encrypted again (see
/// the crate docs for why). Integrity secrets (two of them reveal the hash
/// key): zeroized, never persisted, never sent beyond the client's own
/// workers.
#[derive(Default)]
pub struct Fingerprints {
    shares: BTreeMap<(u32, u32), Zeroizing<[u8; 16]>>,
}

impl Fingerprints {
    /// No part encrypted yet.
    pub fn new() -> Fingerprints {
        Fingerprints::default()
    }

    /// Records segment `segment` of part `part` the first time; afterwards
    /// checks that it is the same.
    pub fn check_or_record(
        &mut self,
        part: u32,
        segment: u32,
        share: &[u8; 16],
    ) -> Result<(), Changed> {
        match self.shares.get(&(part, segment)) {
            None => {
                self.shares.insert((part, segment), Zeroizing::new(*share));
                Ok(())
            }
            Some(known) if bool::from(known.ct_eq(share)) => Ok(()),
            Some(_) => Err(Changed(part)),
        }
    }

    /// Part `part`'s known shares from its first segment on, concatenated (16
    /// bytes each), for the encryptor to compare against before it sends a
    /// re-encryption; empty if the part was never encrypted.
    pub fn expected(&self, part: u32) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        for segment in 0.. {
            match self.shares.get(&(part, segment)) {
                Some(share) => out.extend_from_slice(&share[..]),
                None => break,
            }
        }
        out
    }
}

/// Whether `share` is segment `segment` of `expected` (as [`Fingerprints::expected`]
/// lays it out): `None` if that segment is not known, else the constant-time
/// comparison.
pub fn matches_expected(expected: &[u8], segment: usize, share: &[u8; 16]) -> Option<bool> {
    let start = segment.checked_mul(16)?;
    let known = expected.get(start..start.checked_add(16)?)?;
    Some(bool::from(known.ct_eq(&share[..])))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealdrop_api::PresignedMethod;

    fn url(n: u32) -> PresignedPart {
        PresignedPart {
            part_number: n,
            request: PresignedRequest {
                method: PresignedMethod::Put,
                url: format!("http://s/p{n}"),
                headers: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn completion_needs_every_part_with_its_etag() {
        let plan = UploadPlan::multipart(48, 16, 3, false).unwrap();
        let mut ledger = PartLedger::new(&plan);
        ledger.record(2, Some("\"b\"".into())).unwrap();
        assert_eq!(ledger.missing().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(ledger.completion("k", "u"), Err(LedgerError::Incomplete(1)));
        assert_eq!(ledger.record(1, None), Err(LedgerError::MissingEtag(1)));
        assert!(ledger.record(4, Some("x".into())).is_err());
        ledger.record(3, Some("\"c\"".into())).unwrap();
        ledger.record(1, Some("\"a\"".into())).unwrap();
        assert_eq!(ledger.stored_bytes(&plan), 48);
        let done = ledger.completion("k", "u").unwrap();
        let numbers: Vec<u32> = done.parts.iter().map(|p| p.part_number).collect();
        assert_eq!(numbers, vec![1, 2, 3], "ascending, as S3 requires");
        // It survives a round trip through storage (resume after a reload).
        let json = serde_json::to_string(&ledger).unwrap();
        assert_eq!(serde_json::from_str::<PartLedger>(&json).unwrap(), ledger);
    }

    #[test]
    fn a_single_put_completes_without_an_etag() {
        let plan = UploadPlan::single(5, true);
        let mut ledger = PartLedger::new(&plan);
        ledger.record(1, None).unwrap();
        assert!(ledger.is_complete());
    }

    #[test]
    fn urls_are_used_while_fresh_and_signed_in_batches_ahead() {
        let mut urls = PartUrls::new(300);
        urls.insert(vec![url(1), url(2)], 0.0, 1_000.0, 100.0)
            .unwrap();
        assert!(urls.insert(vec![url(301)], 0.0, 1_000.0, 100.0).is_err());
        assert!(urls.take(1, 500.0).is_some());
        assert!(urls.take(1, 500.0).is_none(), "handed out once");
        assert!(urls.take(2, 950.0).is_none(), "within the margin of expiry");
        let pending = 3..=300;
        let batch = urls.to_sign(3, pending.clone(), 0.0, 1000);
        assert_eq!(batch.len(), MAX_SIGN_BATCH as usize, "the API's limit");
        assert_eq!(batch.first(), Some(&3));
        urls.insert(vec![url(5)], 0.0, 1_000.0, 100.0).unwrap();
        assert_eq!(
            urls.to_sign(3, pending, 0.0, 4),
            vec![3, 4, 6, 7],
            "skips fresh URLs"
        );
    }

    #[test]
    fn a_part_encrypted_again_must_have_the_same_fingerprint() {
        let mut prints = Fingerprints::new();
        prints.check_or_record(1, 0, &[1; 16]).unwrap();
        prints.check_or_record(1, 1, &[2; 16]).unwrap();
        prints.check_or_record(1, 3, &[4; 16]).unwrap();
        assert!(prints.check_or_record(1, 0, &[1; 16]).is_ok());
        assert_eq!(prints.check_or_record(1, 1, &[3; 16]), Err(Changed(1)));
        let expected = prints.expected(1);
        assert_eq!(expected.len(), 32, "the contiguous prefix only");
        assert_eq!(matches_expected(&expected, 1, &[2; 16]), Some(true));
        assert_eq!(matches_expected(&expected, 1, &[9; 16]), Some(false));
        assert_eq!(matches_expected(&expected, 2, &[3; 16]), None);
        assert!(prints.expected(2).is_empty());
    }
}
