//! Laying out one AES-GCM ciphertext stream over S3 multipart parts.
//!
//! S3 needs every part but the last to be at least 5 MiB; GCM needs nothing but
//! order. Splitting the *plaintext* at multiples of 16 bytes gives ciphertext parts
//! of the same sizes (CTR preserves length), so every part but the last is a
//! multiple of 16 bytes and the tag rides at the end of the last part. Parts are
//! encrypted in order with one [`Encryptor`]; see [`PartEncryptor`].

use crate::error::PartError;
use crate::gcm::Encryptor;
use crate::suite::{MAX_PLAINTEXT_LEN, TAG_LEN};

/// S3's minimum size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's maximum size of one part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's maximum number of parts.
pub const MAX_PARTS: u64 = 10_000;
/// The part size sealdrop prefers: large enough to amortise requests, small
/// enough that a few parts in flight stay within a browser's memory.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;

/// How an object of a given plaintext length is split into parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    plaintext_len: u64,
    part_size: u64,
}

/// One part of a [`PartPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartSpec {
    /// 1-based S3 part number.
    pub number: u32,
    /// Offset of this part's plaintext in the object.
    pub plaintext_offset: u64,
    /// Plaintext bytes in this part.
    pub plaintext_len: u64,
    /// Whether the tag follows this part's ciphertext.
    pub is_last: bool,
}

impl PartSpec {
    /// Bytes this part uploads: its ciphertext, plus the tag on the last part.
    pub fn ciphertext_len(&self) -> u64 {
        self.plaintext_len + if self.is_last { TAG_LEN as u64 } else { 0 }
    }

    /// Offset of this part's bytes in the stored object.
    pub fn ciphertext_offset(&self) -> u64 {
        self.plaintext_offset
    }
}

impl PartPlan {
    /// A plan with an explicit part size (a positive multiple of 16 bytes).
    /// S3 additionally requires [`MIN_PART_SIZE`] for multi-part objects; that is
    /// the caller's policy, not a format rule, so small sizes are allowed here.
    pub fn new(plaintext_len: u64, part_size: u64) -> Result<Self, PartError> {
        if part_size == 0 || !part_size.is_multiple_of(16) || part_size > MAX_PART_SIZE {
            return Err(PartError::PartSize(part_size));
        }
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(PartError::Length(crate::error::LengthError::TooLong {
                limit: MAX_PLAINTEXT_LEN,
            }));
        }
        let plan = PartPlan {
            plaintext_len,
            part_size,
        };
        let parts = plan.part_count_u64();
        if parts > MAX_PARTS {
            return Err(PartError::TooManyParts {
                parts,
                limit: MAX_PARTS,
            });
        }
        Ok(plan)
    }

    /// The plan sealdrop uses: [`DEFAULT_PART_SIZE`], grown in whole MiB when the
    /// object would otherwise need more than [`MAX_PARTS`] parts.
    pub fn for_len(plaintext_len: u64) -> Result<Self, PartError> {
        Self::at_least(plaintext_len, DEFAULT_PART_SIZE)
    }

    /// Parts of `part_size`, grown in whole MiB when the object would
    /// otherwise need more than [`MAX_PARTS`] parts.
    pub fn at_least(plaintext_len: u64, part_size: u64) -> Result<Self, PartError> {
        const MIB: u64 = 1024 * 1024;
        let needed = plaintext_len.div_ceil(MAX_PARTS);
        Self::new(plaintext_len, part_size.max(needed.div_ceil(MIB) * MIB))
    }

    fn part_count_u64(&self) -> u64 {
        self.plaintext_len.div_ceil(self.part_size).max(1)
    }

    /// Number of parts (at least one, even for an empty object).
    pub fn part_count(&self) -> u32 {
        // Bounded by MAX_PARTS at construction.
        u32::try_from(self.part_count_u64()).unwrap_or(u32::MAX)
    }

    /// The plaintext part size.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// The object's plaintext length.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Size of the stored object: ciphertext plus tag.
    pub fn ciphertext_len(&self) -> u64 {
        self.plaintext_len + TAG_LEN as u64
    }

    /// Part `number` (1-based), if the plan has it.
    pub fn part(&self, number: u32) -> Option<PartSpec> {
        let count = self.part_count();
        if number == 0 || number > count {
            return None;
        }
        let offset = u64::from(number - 1) * self.part_size;
        Some(PartSpec {
            number,
            plaintext_offset: offset,
            plaintext_len: (self.plaintext_len - offset).min(self.part_size),
            is_last: number == count,
        })
    }

    /// All parts in order.
    pub fn parts(&self) -> impl Iterator<Item = PartSpec> + '_ {
        (1..=self.part_count()).filter_map(|n| self.part(n))
    }
}

/// Encrypts an object part by part, in order, enforcing the plan: each call takes
/// exactly the part's plaintext and returns its upload body (with the tag on the
/// last part).
pub struct PartEncryptor {
    plan: PartPlan,
    encryptor: Option<Encryptor>,
    next: u32,
}

impl PartEncryptor {
    /// Starts at part 1 with a fresh encryptor.
    pub fn new(encryptor: Encryptor, plan: PartPlan) -> Self {
        PartEncryptor {
            plan,
            encryptor: Some(encryptor),
            next: 1,
        }
    }

    /// The next part to encrypt, if any remain.
    pub fn next_part(&self) -> Option<PartSpec> {
        self.plan.part(self.next)
    }

    /// Encrypts the next part's plaintext in place, appending the tag if it is the
    /// last part, and returns which part it was.
    pub fn encrypt_next(&mut self, buf: &mut Vec<u8>) -> Result<PartSpec, PartError> {
        let (Some(spec), Some(encryptor)) = (self.next_part(), self.encryptor.as_mut()) else {
            return Err(PartError::Exhausted(self.plan.part_count()));
        };
        if buf.len() as u64 != spec.plaintext_len {
            return Err(PartError::PartLength {
                part: spec.number,
                expected: spec.plaintext_len,
                actual: buf.len() as u64,
            });
        }
        encryptor.encrypt_in_place(buf)?;
        if spec.is_last
            && let Some(encryptor) = self.encryptor.take()
        {
            buf.extend_from_slice(encryptor.finish().as_bytes());
        }
        self.next += 1;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_object_with_the_tag_last() {
        for (len, part_size, expected) in [
            (0u64, 16u64, vec![(0u64, 16u64)]),
            (1, 16, vec![(1, 17)]),
            (16, 16, vec![(16, 32)]),
            (17, 16, vec![(16, 16), (1, 17)]),
            (48, 16, vec![(16, 16), (16, 16), (16, 32)]),
        ] {
            let plan = PartPlan::new(len, part_size).unwrap();
            let got: Vec<(u64, u64)> = plan
                .parts()
                .map(|p| (p.plaintext_len, p.ciphertext_len()))
                .collect();
            assert_eq!(got, expected, "len {len}");
            let total: u64 = plan.parts().map(|p| p.ciphertext_len()).sum();
            assert_eq!(total, plan.ciphertext_len());
            for p in plan.parts().filter(|p| !p.is_last) {
                assert_eq!(p.ciphertext_len() % 16, 0);
            }
        }
    }

    #[test]
    fn rejects_bad_sizes_and_grows_for_huge_objects() {
        assert!(PartPlan::new(10, 0).is_err());
        assert!(PartPlan::new(10, 15).is_err());
        assert!(matches!(
            PartPlan::new(16 * 10_001, 16),
            Err(PartError::TooManyParts { .. })
        ));
        let plan = PartPlan::for_len(1 << 20).unwrap();
        assert_eq!(plan.part_size(), DEFAULT_PART_SIZE);
        let huge = PartPlan::for_len(60 * 1024 * 1024 * 1024).unwrap();
        assert!(huge.part_count() as u64 <= MAX_PARTS);
        assert_eq!(huge.part_size() % (1024 * 1024), 0);
        assert!(huge.part(0).is_none());
        assert!(huge.part(huge.part_count() + 1).is_none());
        // A configured part size is kept unless the object needs larger parts.
        let five = 5 * 1024 * 1024;
        assert_eq!(PartPlan::at_least(1 << 30, five).unwrap().part_size(), five);
        let grown = PartPlan::at_least(60 * 1024 * 1024 * 1024, five).unwrap();
        assert_eq!(grown.part_size(), 7 * 1024 * 1024);
        assert!(grown.part_count() as u64 <= MAX_PARTS);
    }
}
