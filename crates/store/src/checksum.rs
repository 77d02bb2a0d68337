//! Flexible checksums (`x-amz-checksum-*`), sent by current AWS SDKs as a header or as an
//! `aws-chunked` trailer. Verified on PutObject/UploadPart; not stored.

use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algo {
    pub(crate) fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "crc32" | "x-amz-checksum-crc32" => Some(Self::Crc32),
            "crc32c" | "x-amz-checksum-crc32c" => Some(Self::Crc32c),
            "crc64nvme" | "x-amz-checksum-crc64nvme" => Some(Self::Crc64Nvme),
            "sha1" | "x-amz-checksum-sha1" => Some(Self::Sha1),
            "sha256" | "x-amz-checksum-sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    pub(crate) fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

pub(crate) struct Hasher {
    algo: Algo,
    inner: ChecksumHasher,
}

impl Hasher {
    pub(crate) fn new(algo: Algo) -> Self {
        let mut inner = ChecksumHasher::default();
        match algo {
            Algo::Crc32 => inner.crc32 = Some(s3s::crypto::Crc32::new()),
            Algo::Crc32c => inner.crc32c = Some(s3s::crypto::Crc32c::new()),
            Algo::Crc64Nvme => inner.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
            Algo::Sha1 => inner.sha1 = Some(s3s::crypto::Sha1::new()),
            Algo::Sha256 => inner.sha256 = Some(s3s::crypto::Sha256::new()),
        }
        Self { algo, inner }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The algorithm and the base64 value.
    pub(crate) fn finish(self) -> (Algo, String) {
        let c = self.inner.finalize();
        let v = match self.algo {
            Algo::Crc32 => c.checksum_crc32,
            Algo::Crc32c => c.checksum_crc32c,
            Algo::Crc64Nvme => c.checksum_crc64nvme,
            Algo::Sha1 => c.checksum_sha1,
            Algo::Sha256 => c.checksum_sha256,
        };
        (self.algo, v.unwrap_or_default())
    }
}

/// Which checksum a request asks for and where the expected value comes from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub algo: Option<Algo>,
    /// Value sent as a header.
    pub expected: Option<String>,
    /// Name of the trailer that will carry the value.
    pub trailer: Option<String>,
}

impl Plan {
    pub(crate) fn from_request(
        headers: &http::HeaderMap,
        values: [(Algo, Option<&String>); 5],
        algorithm: Option<&str>,
    ) -> Self {
        for (algo, v) in values {
            if let Some(v) = v {
                return Self {
                    algo: Some(algo),
                    expected: Some(v.clone()),
                    trailer: None,
                };
            }
        }
        if let Some(t) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            let t = t.trim().to_ascii_lowercase();
            if let Some(algo) = Algo::from_name(&t) {
                return Self {
                    algo: Some(algo),
                    expected: None,
                    trailer: Some(t),
                };
            }
        }
        Self {
            algo: algorithm.and_then(Algo::from_name),
            expected: None,
            trailer: None,
        }
    }

    /// Compares the computed value with the expected one (header or trailer).
    pub(crate) fn verify(
        &self,
        computed: Option<&(Algo, String)>,
        trailers: Option<&s3s::TrailingHeaders>,
    ) -> Result<(), String> {
        let Some((algo, value)) = computed else {
            return Ok(());
        };
        let expected = match (&self.expected, &self.trailer) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(name)) => trailers
                .and_then(|t| {
                    t.read(|h| {
                        h.get(name.as_str())
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    })
                })
                .flatten(),
            _ => None,
        };
        match expected {
            Some(e) if e.trim() != value => Err(format!(
                "the {} you specified did not match the calculated checksum",
                algo.header_name()
            )),
            _ => Ok(()),
        }
    }
}

/// Puts a computed checksum into the output fields of PutObject/UploadPart.
pub(crate) fn set_output(
    computed: Option<(Algo, String)>,
    crc32: &mut Option<String>,
    crc32c: &mut Option<String>,
    crc64nvme: &mut Option<String>,
    sha1: &mut Option<String>,
    sha256: &mut Option<String>,
) {
    if let Some((algo, v)) = computed {
        match algo {
            Algo::Crc32 => *crc32 = Some(v),
            Algo::Crc32c => *crc32c = Some(v),
            Algo::Crc64Nvme => *crc64nvme = Some(v),
            Algo::Sha1 => *sha1 = Some(v),
            Algo::Sha256 => *sha256 = Some(v),
        }
    }
}
