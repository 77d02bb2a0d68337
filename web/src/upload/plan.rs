//! How an upload's bytes are cut into requests, checked against what the
//! broker said.

use sealdrop_api::{CreateUploadResponse, Transfer};
use sealdrop_envelope::{PartPlan, TAG_LEN};

/// One request body: a slice of the file, plus the tag if it is the last part
/// of an encrypted object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// 1-based part number (1 for a single PUT).
    pub number: u32,
    /// Plaintext offset in the file.
    pub offset: u64,
    /// Plaintext bytes.
    pub len: u64,
    /// The last part: carries the tag when encrypted.
    pub is_last: bool,
}

impl Part {
    /// Bytes this part sends.
    pub fn stored_len(&self, encrypted: bool) -> u64 {
        self.len
            + if encrypted && self.is_last {
                TAG_LEN as u64
            } else {
                0
            }
    }
}

/// The parts of an upload of `size` plaintext bytes.
pub fn parts(
    response: &CreateUploadResponse,
    size: u64,
    encrypted: bool,
) -> Result<Vec<Part>, String> {
    let expected_stored = size + if encrypted { TAG_LEN as u64 } else { 0 };
    if response.size != size || response.stored_size != expected_stored {
        return Err(format!(
            "the upload was created for {} bytes ({} stored), the file has {size}",
            response.size, response.stored_size
        ));
    }
    match &response.transfer {
        Transfer::Single { .. } => Ok(vec![Part {
            number: 1,
            offset: 0,
            len: size,
            is_last: true,
        }]),
        Transfer::Multipart {
            part_size,
            part_count,
            ..
        } => {
            let parts = cut(size, *part_size, encrypted)?;
            if parts.len() as u64 != u64::from(*part_count) {
                return Err(format!(
                    "the broker planned {part_count} parts, parts of {part_size} bytes give {}",
                    parts.len()
                ));
            }
            Ok(parts)
        }
    }
}

fn cut(size: u64, part_size: u64, encrypted: bool) -> Result<Vec<Part>, String> {
    if encrypted {
        // The envelope's layout: parts at 16-byte-multiple offsets, tag last.
        let plan = PartPlan::new(size, part_size).map_err(|e| e.to_string())?;
        return Ok(plan
            .parts()
            .map(|p| Part {
                number: p.number,
                offset: p.plaintext_offset,
                len: p.plaintext_len,
                is_last: p.is_last,
            })
            .collect());
    }
    if part_size == 0 {
        return Err("part size 0".into());
    }
    let count = size.div_ceil(part_size).max(1);
    let count = u32::try_from(count).map_err(|_| "too many parts".to_owned())?;
    Ok((1..=count)
        .map(|number| {
            let offset = u64::from(number - 1) * part_size;
            Part {
                number,
                offset,
                len: (size - offset).min(part_size),
                is_last: number == count,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parts_cover_the_file() {
        for encrypted in [false, true] {
            for size in [0u64, 1, 15, 16, 17, 47, 48, 49] {
                let parts = cut(size, 16, encrypted).unwrap();
                assert_eq!(parts.iter().map(|p| p.len).sum::<u64>(), size);
                assert!(parts.last().unwrap().is_last);
                assert_eq!(parts.iter().filter(|p| p.is_last).count(), 1);
                for pair in parts.windows(2) {
                    assert_eq!(pair[0].offset + pair[0].len, pair[1].offset);
                    assert_eq!(pair[0].number + 1, pair[1].number);
                }
                let stored: u64 = parts.iter().map(|p| p.stored_len(encrypted)).sum();
                assert_eq!(stored, size + if encrypted { 16 } else { 0 });
            }
        }
        assert!(cut(100, 15, true).is_err());
    }
}
