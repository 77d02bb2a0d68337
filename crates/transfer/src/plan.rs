//! The parts of an upload: the broker's answer to `POST /api/v1/uploads`,
//! checked against what the client asked for.
//!
//! Both sides must cut the same parts, or storage assembles something else:
//! the broker chooses the layout (part size and count, signed into the upload),
//! the client checks it is the only layout the size allows before sending a
//! byte. Client-side encryption keeps lengths (GCM is a stream cipher), so
//! parts are cut at the same plaintext offsets for both modes; the 16-byte tag
//! rides at the end of the last part.

use sealdrop_api::{CreateUploadResponse, Mode, Transfer};
use sealdrop_envelope::{MAX_PARTS, PartError, PartPlan, TAG_LEN};

/// Why the broker's upload cannot be followed. Always a broker bug or a
/// mismatch between client and broker versions: nothing was sent yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The upload has another mode than asked for.
    #[error("asked for a {asked:?} upload, got {got:?}")]
    Mode {
        /// What the client asked for.
        asked: Mode,
        /// What the broker created.
        got: Mode,
    },
    /// The upload was created for another size.
    #[error("the upload was created for {got} bytes ({stored} stored), the file has {asked}")]
    Size {
        /// The file's size.
        asked: u64,
        /// The size the broker created the upload for.
        got: u64,
        /// The stored size it announced.
        stored: u64,
    },
    /// The multipart layout does not describe the object.
    #[error("{size} bytes in parts of {part_size} bytes cannot be {part_count} parts")]
    Layout {
        /// Plaintext size.
        size: u64,
        /// The broker's part size.
        part_size: u64,
        /// The broker's part count.
        part_count: u32,
    },
    /// The layout is not one GCM stream can follow (parts of whole blocks).
    #[error("unusable multipart layout: {0}")]
    Parts(#[from] PartError),
    /// A part number outside the upload.
    #[error("part {number} of an upload with {count} parts")]
    PartNumber {
        /// The number.
        number: u32,
        /// Parts in the upload.
        count: u32,
    },
}

/// One request body of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// 1-based part number (1 for a single PUT).
    pub number: u32,
    /// Offset of the part's plaintext in the file (and of its bytes in the
    /// stored object).
    pub offset: u64,
    /// Plaintext bytes of the part.
    pub len: u64,
    /// The last part: it carries the tag when encrypted.
    pub is_last: bool,
    /// Bytes this part sends: its length, plus the tag on the last part of a
    /// client-side encrypted object.
    pub stored_len: u64,
}

/// The checked layout of one upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadPlan {
    size: u64,
    part_size: u64,
    part_count: u32,
    encrypted: bool,
    multipart: bool,
}

impl UploadPlan {
    /// The plan of `response`, an upload created for `size` plaintext bytes
    /// in `mode`; refused if the broker's answer contradicts the request or
    /// itself.
    pub fn check(
        size: u64,
        mode: Mode,
        response: &CreateUploadResponse,
    ) -> Result<UploadPlan, PlanError> {
        let got = response.encryption.mode();
        if got != mode {
            return Err(PlanError::Mode { asked: mode, got });
        }
        let encrypted = mode == Mode::Cse;
        let tag = if encrypted { TAG_LEN as u64 } else { 0 };
        if response.size != size || response.stored_size != size + tag {
            return Err(PlanError::Size {
                asked: size,
                got: response.size,
                stored: response.stored_size,
            });
        }
        match &response.transfer {
            Transfer::Single { .. } => Ok(UploadPlan::single(size, encrypted)),
            Transfer::Multipart {
                part_size,
                part_count,
                ..
            } => UploadPlan::multipart(size, *part_size, *part_count, encrypted),
        }
    }

    /// The whole object in one request.
    pub fn single(size: u64, encrypted: bool) -> UploadPlan {
        UploadPlan {
            size,
            part_size: size,
            part_count: 1,
            encrypted,
            multipart: false,
        }
    }

    /// A multipart layout, checked: `part_count` is the one `size` and
    /// `part_size` give, within S3's limit, and for encryption parts are whole
    /// AES blocks (the envelope's [`PartPlan`] rules).
    pub fn multipart(
        size: u64,
        part_size: u64,
        part_count: u32,
        encrypted: bool,
    ) -> Result<UploadPlan, PlanError> {
        let layout = PlanError::Layout {
            size,
            part_size,
            part_count,
        };
        if part_size == 0 || u64::from(part_count) > MAX_PARTS {
            return Err(layout);
        }
        if u64::from(part_count) != size.div_ceil(part_size).max(1) {
            return Err(layout);
        }
        let plan = UploadPlan {
            size,
            part_size,
            part_count,
            encrypted,
            multipart: true,
        };
        if encrypted {
            plan.encryption_plan()?;
        }
        Ok(plan)
    }

    /// Plaintext bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes stored: the plaintext size, plus the tag for client-side encryption.
    pub fn stored_size(&self) -> u64 {
        self.size + self.tag_len()
    }

    /// Number of parts (1 for a single PUT).
    pub fn part_count(&self) -> u32 {
        self.part_count
    }

    /// Client-side encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// A multipart upload (completed with the parts' ETags).
    pub fn is_multipart(&self) -> bool {
        self.multipart
    }

    fn tag_len(&self) -> u64 {
        if self.encrypted { TAG_LEN as u64 } else { 0 }
    }

    /// Part `number` (1-based).
    pub fn part(&self, number: u32) -> Result<Part, PlanError> {
        if number == 0 || number > self.part_count {
            return Err(PlanError::PartNumber {
                number,
                count: self.part_count,
            });
        }
        let offset = u64::from(number - 1) * self.part_size;
        let len = self.size.saturating_sub(offset).min(self.part_size);
        let is_last = number == self.part_count;
        Ok(Part {
            number,
            offset,
            len,
            is_last,
            stored_len: len + if is_last { self.tag_len() } else { 0 },
        })
    }

    /// The part holding plaintext byte `offset` (the last part for the end of
    /// the object).
    pub fn part_at(&self, offset: u64) -> Option<Part> {
        let number = match offset.checked_div(self.part_size) {
            Some(index) => u32::try_from(index + 1).ok()?,
            None => 1,
        };
        self.part(number.min(self.part_count)).ok()
    }

    /// Every part, in order.
    pub fn parts(&self) -> impl Iterator<Item = Part> + '_ {
        (1..=self.part_count).filter_map(|n| self.part(n).ok())
    }

    /// The envelope's plan for encrypting these parts in one GCM stream.
    pub fn encryption_plan(&self) -> Result<PartPlan, PlanError> {
        // One part needs no cut; the envelope wants a positive multiple of 16.
        let part_size = if self.part_count == 1 {
            self.size.next_multiple_of(16).max(16)
        } else {
            self.part_size
        };
        let plan = PartPlan::new(self.size, part_size)?;
        if plan.part_count() != self.part_count {
            return Err(PlanError::Layout {
                size: self.size,
                part_size: self.part_size,
                part_count: self.part_count,
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parts_cover_the_object_and_the_tag_rides_last() {
        let plan = UploadPlan::multipart(33, 16, 3, true).unwrap();
        let parts: Vec<Part> = plan.parts().collect();
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.len, p.stored_len))
                .collect::<Vec<_>>(),
            vec![(16, 16), (16, 16), (1, 17)]
        );
        // An exact multiple: the tag makes the last part longer, not a new part.
        let plan = UploadPlan::multipart(32, 16, 2, true).unwrap();
        assert_eq!(plan.part(2).unwrap().stored_len, 32);
        assert_eq!(plan.stored_size(), 48);
        assert_eq!(plan.part_at(17).map(|p| p.number), Some(2));
        assert_eq!(plan.part_at(32).map(|p| p.number), Some(2));
        // Unencrypted parts need no alignment and carry no tag.
        let plan = UploadPlan::multipart(30, 10, 3, false).unwrap();
        assert_eq!(plan.part(3).unwrap().stored_len, 10);
    }

    #[test]
    fn a_miscounted_or_misaligned_layout_is_refused() {
        assert!(UploadPlan::multipart(33, 16, 2, true).is_err());
        assert!(UploadPlan::multipart(33, 0, 1, false).is_err());
        // Parts that are not whole blocks cannot carry one GCM stream.
        assert!(UploadPlan::multipart(30, 10, 3, true).is_err());
        assert!(UploadPlan::multipart(30, 10, 3, false).is_ok());
        let plan = UploadPlan::single(5, true);
        assert_eq!(
            plan.part(2),
            Err(PlanError::PartNumber {
                number: 2,
                count: 1
            })
        );
    }

    #[test]
    fn single_requests_take_any_size() {
        for size in [0u64, 1, 15, 16, 17, 5 << 20] {
            let plan = UploadPlan::single(size, true);
            let part = plan.part(1).unwrap();
            assert_eq!((part.offset, part.len, part.is_last), (0, size, true));
            let envelope = plan.encryption_plan().unwrap();
            assert_eq!(envelope.part_count(), 1);
            assert_eq!(envelope.ciphertext_len(), plan.stored_size());
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn the_plan_agrees_with_the_envelope(size in 0u64..200_000, blocks in 1u64..2000) {
            let part_size = blocks * 16;
            let count = size.div_ceil(part_size).max(1) as u32;
            let plan = UploadPlan::multipart(size, part_size, count, true).unwrap();
            let envelope = plan.encryption_plan().unwrap();
            let ours: Vec<(u32, u64, u64, u64)> =
                plan.parts().map(|p| (p.number, p.offset, p.len, p.stored_len)).collect();
            let theirs: Vec<(u32, u64, u64, u64)> = envelope
                .parts()
                .map(|p| (p.number, p.plaintext_offset, p.plaintext_len, p.ciphertext_len()))
                .collect();
            proptest::prop_assert_eq!(ours, theirs);
            proptest::prop_assert_eq!(
                plan.parts().map(|p| p.stored_len).sum::<u64>(),
                plan.stored_size()
            );
        }
    }
}
