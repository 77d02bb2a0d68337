//! Where the parts of an upload begin and end.

use sealdrop_envelope::{PartPlan, TAG_LEN};

use crate::error::Error;

/// The parts of an upload, in plaintext bytes. Client-side encryption keeps
/// lengths (CTR mode), so parts are cut at the same offsets for both modes; the
/// tag then rides at the end of the last part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    size: u64,
    part_size: u64,
    part_count: u32,
}

impl Layout {
    /// The whole object in one request.
    pub(crate) fn single(size: u64) -> Layout {
        Layout {
            size,
            part_size: size,
            part_count: 1,
        }
    }

    /// The broker's multipart layout, checked against the size: both sides
    /// must cut the same parts, or storage assembles something else.
    pub(crate) fn multipart(size: u64, part_size: u64, part_count: u32) -> Result<Layout, Error> {
        if part_size == 0 {
            return Err(Error::Protocol("multipart part size is 0".into()));
        }
        let expected = size.div_ceil(part_size).max(1);
        if u64::from(part_count) != expected {
            return Err(Error::Protocol(format!(
                "{size} bytes in parts of {part_size} make {expected} parts, the broker says {part_count}"
            )));
        }
        Ok(Layout {
            size,
            part_size,
            part_count,
        })
    }

    pub(crate) fn part_count(&self) -> u32 {
        self.part_count
    }

    /// Plaintext bytes of part `number` (1-based, within the layout).
    pub(crate) fn plaintext_len(&self, number: u32) -> u64 {
        let offset = u64::from(number.saturating_sub(1)) * self.part_size;
        self.size.saturating_sub(offset).min(self.part_size)
    }

    /// Bytes stored for client-side encryption: the ciphertext and the tag.
    pub(crate) fn encrypted_size(&self) -> u64 {
        self.size + TAG_LEN as u64
    }

    /// The envelope's plan for encrypting these parts.
    pub(crate) fn encryption_plan(&self) -> Result<PartPlan, Error> {
        // One part needs no cut; the plan wants a positive multiple of 16 anyway.
        let part_size = if self.part_count == 1 {
            self.size.next_multiple_of(16).max(16)
        } else {
            self.part_size
        };
        let plan = PartPlan::new(self.size, part_size)?;
        if plan.part_count() != self.part_count {
            return Err(Error::Protocol(format!(
                "the encryption plan has {} parts, the upload {}",
                plan.part_count(),
                self.part_count
            )));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_object() {
        let layout = Layout::multipart(33, 16, 3).unwrap();
        let lens: Vec<u64> = (1..=3).map(|n| layout.plaintext_len(n)).collect();
        assert_eq!(lens, vec![16, 16, 1]);
        let plan = layout.encryption_plan().unwrap();
        let stored: Vec<u64> = plan.parts().map(|p| p.ciphertext_len()).collect();
        assert_eq!(stored, vec![16, 16, 17]);

        // An exact multiple: the tag makes the last part longer, not a new part.
        let layout = Layout::multipart(32, 16, 2).unwrap();
        assert_eq!(layout.encryption_plan().unwrap().part_count(), 2);
        assert_eq!(layout.plaintext_len(2), 16);
    }

    #[test]
    fn a_miscounted_layout_is_refused() {
        assert!(Layout::multipart(33, 16, 2).is_err());
        assert!(Layout::multipart(33, 0, 1).is_err());
        // Parts that are not a multiple of 16 bytes cannot carry one GCM stream.
        let layout = Layout::multipart(30, 10, 3).unwrap();
        assert!(layout.encryption_plan().is_err());
    }

    #[test]
    fn single_requests_take_any_size() {
        for size in [0u64, 1, 15, 16, 17, 5 << 20] {
            let layout = Layout::single(size);
            assert_eq!(layout.plaintext_len(1), size);
            let plan = layout.encryption_plan().unwrap();
            assert_eq!(plan.part_count(), 1);
            assert_eq!(plan.ciphertext_len(), layout.encrypted_size());
        }
        assert_eq!(Layout::multipart(0, 16, 1).unwrap().plaintext_len(1), 0);
    }
}
