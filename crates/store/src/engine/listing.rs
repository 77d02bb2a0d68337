//! ListObjects (V1 and V2) over the index: prefix, delimiter, and a cursor to resume after.
//!
//! A listing is one read transaction, so a page never mixes two states of the index.

use super::Engine;
use super::index::{BUCKETS, OBJECTS, obj_key, prefix_successor, require_bucket};
use super::records::{ObjectRecord, decode};
use crate::StoreError;

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Last key or common prefix returned (to build the continuation token).
    pub last: Option<ListCursor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListCursor {
    /// Continue strictly after this key.
    Key(String),
    /// Continue after every key starting with this prefix.
    Prefix(String),
}

impl ListCursor {
    pub(crate) fn encode(&self) -> String {
        match self {
            ListCursor::Key(k) => format!("k{}", hex::encode(k.as_bytes())),
            ListCursor::Prefix(p) => format!("p{}", hex::encode(p.as_bytes())),
        }
    }

    pub(crate) fn decode(token: &str) -> Option<Self> {
        let (kind, rest) = token.split_at_checked(1)?;
        let bytes = hex::decode(rest).ok()?;
        let s = String::from_utf8(bytes).ok()?;
        match kind {
            "k" => Some(ListCursor::Key(s)),
            "p" => Some(ListCursor::Prefix(s)),
            _ => None,
        }
    }
}

impl Engine {
    /// ListObjects(V2) core: keys of `bucket` starting with `prefix`, strictly after `after`,
    /// grouped by `delimiter`, at most `max` entries (objects + common prefixes).
    pub(crate) fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&ListCursor>,
        max: usize,
    ) -> Result<ListPage, StoreError> {
        let txn = self.db.begin_read()?;
        require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
        let t = txn.open_table(OBJECTS)?;
        let base = obj_key(bucket, "");
        let bucket_end = prefix_successor(&base).unwrap_or_default();
        let prefix_start = obj_key(bucket, prefix);
        let prefix_end = prefix_successor(&prefix_start).unwrap_or_else(|| bucket_end.clone());

        // Where to start scanning (inclusive lower bound).
        let mut start = prefix_start.clone();
        match after {
            Some(ListCursor::Key(k)) => {
                let mut s = obj_key(bucket, k);
                s.push(0); // strictly after k
                if s > start {
                    start = s;
                }
            }
            Some(ListCursor::Prefix(p)) => {
                if let Some(s) = prefix_successor(&obj_key(bucket, p))
                    && s > start
                {
                    start = s;
                }
            }
            None => {}
        }

        let mut page = ListPage::default();
        if max == 0 {
            return Ok(page);
        }
        let delimiter = delimiter.filter(|d| !d.is_empty());
        'outer: loop {
            if start >= prefix_end {
                break;
            }
            let mut next_start: Option<Vec<u8>> = None;
            for item in t.range(start.as_slice()..prefix_end.as_slice())? {
                let (k, v) = item?;
                let raw = k.value();
                let key_bytes = raw.get(base.len()..).unwrap_or_default();
                let key = std::str::from_utf8(key_bytes)
                    .map_err(|_| StoreError::Corrupt("non-UTF-8 key in index".into()))?;
                let mut common_prefix = None;
                if let Some(d) = delimiter {
                    let rest = key.get(prefix.len()..).unwrap_or_default();
                    if let Some(pos) = rest.find(d) {
                        let cp = format!("{prefix}{}", &rest[..pos + d.len()]);
                        // A common prefix at or before a ListObjects marker was already
                        // returned: skip all of it.
                        if matches!(after, Some(ListCursor::Key(m)) if cp.as_str() <= m.as_str()) {
                            next_start = prefix_successor(&obj_key(bucket, &cp));
                            break;
                        }
                        common_prefix = Some(cp);
                    }
                }
                if page.objects.len() + page.common_prefixes.len() >= max {
                    page.truncated = true;
                    break 'outer;
                }
                if let Some(cp) = common_prefix {
                    page.last = Some(ListCursor::Prefix(cp.clone()));
                    next_start = prefix_successor(&obj_key(bucket, &cp));
                    page.common_prefixes.push(cp);
                    break; // restart the scan after this common prefix
                }
                page.last = Some(ListCursor::Key(key.to_owned()));
                page.objects.push((key.to_owned(), decode(v.value())?));
            }
            match next_start {
                Some(s) => start = s,
                None => break,
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::{ContentHeaders, PutCondition};

    fn rec(v: &str) -> ObjectRecord {
        ObjectRecord {
            version: v.into(),
            size: 0,
            etag: "e".into(),
            last_modified_ms: 0,
            headers: ContentHeaders::default(),
            metadata: BTreeMap::new(),
            segments: vec![],
            sse: None,
            parts_count: None,
        }
    }

    #[test]
    fn listing_with_delimiter_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path()).unwrap();
        e.create_bucket("b").unwrap();
        for k in ["a", "a/b", "a/c", "b", "c/d/e", "c/f", "d"] {
            e.commit_object("b", k, &rec(k), &PutCondition::default())
                .unwrap();
        }
        let p = e.list_objects("b", "", Some("/"), None, 1000).unwrap();
        let keys: Vec<_> = p.objects.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "d"]);
        assert_eq!(p.common_prefixes, ["a/", "c/"]);
        let p = e.list_objects("b", "", Some("/"), None, 2).unwrap();
        assert!(p.truncated);
        assert_eq!(p.last, Some(ListCursor::Prefix("a/".into())));
        let p2 = e
            .list_objects("b", "", Some("/"), p.last.as_ref(), 2)
            .unwrap();
        let keys: Vec<_> = p2.objects.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b"]);
        assert_eq!(p2.common_prefixes, ["c/"]);
        let p = e.list_objects("b", "c/", None, None, 10).unwrap();
        assert_eq!(p.objects.len(), 2);
        assert!(!p.truncated);
        assert_eq!(
            ListCursor::decode(&ListCursor::Key("x/é".into()).encode()),
            Some(ListCursor::Key("x/é".into()))
        );
    }
}
