//! How objects and downloads are shown to people.

use std::fmt::Write as _;

use indicatif::HumanBytes;
use sealdrop_client::DownloadReport;
use sealdrop_client::api::{ObjectInfo, ObjectMode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// The header of `ls`; [`listing_row`] lines up under it.
pub const LISTING_HEADER: &str = "      SIZE  MODIFIED (UTC)    ENCRYPTION  KEY";

/// One line of `ls`: size, date, encryption, then the key (last, since it has
/// no fixed width).
pub fn listing_row(object: &ObjectInfo) -> String {
    format!(
        "{:>10}  {:<16}  {:<10}  {}",
        HumanBytes(object.size).to_string(),
        short_date(&object.last_modified),
        mode_label(object.encryption.mode()),
        object.key
    )
}

/// The encryption mode as `ls` and `get` show it.
pub fn mode_label(mode: ObjectMode) -> &'static str {
    match mode {
        ObjectMode::CseV3 => "CSE V3",
        ObjectMode::CseV2 => "CSE V2",
        ObjectMode::SseKms => "SSE-KMS",
        ObjectMode::None => "none",
        ObjectMode::Invalid => "invalid",
    }
}

/// `2026-11-03 12:04` from RFC 3339; anything else is shown as it came.
fn short_date(rfc3339: &str) -> String {
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .and_then(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
                .ok()
        })
        .unwrap_or_else(|| rfc3339.to_owned())
}

/// What `get` tells about a finished download: where it went and how the
/// object was protected, as stored and as storage announced it.
pub fn download_summary(report: &DownloadReport) -> String {
    let mut out = format!(
        "{} -> {} ({})\nencryption: {}",
        report.key,
        report.path.display(),
        HumanBytes(report.size),
        mode_label(report.mode)
    );
    if let Some(key_id) = &report.kms_key_id {
        let _ = write!(out, ", KMS key {key_id}");
    }
    if let Some(context) = report.encryption_context.as_ref().filter(|c| !c.is_empty()) {
        let pairs: Vec<String> = context.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(out, ", context {{{}}}", pairs.join(", "));
    }
    match &report.server_side_encryption {
        Some(sse) => {
            let _ = write!(out, "\nstorage: x-amz-server-side-encryption: {sse}");
            if let Some(key_id) = &report.server_side_encryption_kms_key_id {
                let _ = write!(out, " (key {key_id})");
            }
        }
        None => out.push_str("\nstorage: no x-amz-server-side-encryption header"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_client::api::{ClientSideEncryption, Encryption, KeyWrapping};
    use std::collections::BTreeMap;

    fn object(encryption: Encryption) -> ObjectInfo {
        ObjectInfo {
            key: "alice/reports/q3.pdf".into(),
            name: "reports/q3.pdf".into(),
            stored_size: 1_572_880,
            size: 1_572_864,
            last_modified: "2026-11-03T13:04:05+01:00".into(),
            content_type: None,
            etag: None,
            encryption,
        }
    }

    #[test]
    fn listing_rows_line_up_under_the_header() {
        let row = listing_row(&object(Encryption::CseV3(ClientSideEncryption {
            kms_key_id: None,
            key_wrapping: KeyWrapping::KmsContext,
            encryption_context: BTreeMap::new(),
            server_side_encryption: None,
        })));
        assert_eq!(
            row,
            "  1.50 MiB  2026-11-03 12:04  CSE V3      alice/reports/q3.pdf"
        );
        assert_eq!(row.find("2026"), LISTING_HEADER.find("MODIFIED"));
        assert_eq!(row.find("CSE"), LISTING_HEADER.find("ENCRYPTION"));
        assert_eq!(row.find("alice"), LISTING_HEADER.find("KEY"));
        let odd = ObjectInfo {
            last_modified: "yesterday".into(),
            ..object(Encryption::Invalid {
                problem: "x-amz-c".into(),
            })
        };
        assert!(listing_row(&odd).contains("yesterday         invalid"));
    }

    #[test]
    fn summaries_name_mode_key_context_and_storage_header() {
        let report = DownloadReport {
            key: "alice/a.txt".into(),
            path: "a.txt".into(),
            size: 3,
            mode: ObjectMode::CseV3,
            kms_key_id: Some("local".into()),
            encryption_context: Some(BTreeMap::from([(
                "sealdrop:key".to_owned(),
                "alice/a.txt".to_owned(),
            )])),
            server_side_encryption: Some("aws:kms".into()),
            server_side_encryption_kms_key_id: Some("local".into()),
        };
        assert_eq!(
            download_summary(&report),
            "alice/a.txt -> a.txt (3 B)\n\
             encryption: CSE V3, KMS key local, context {sealdrop:key=alice/a.txt}\n\
             storage: x-amz-server-side-encryption: aws:kms (key local)"
        );
    }
}
