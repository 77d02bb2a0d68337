//! AWS KMS (or any KMS-API endpoint, e.g. moto) through `aws-sdk-kms`, with the
//! standard credential chain and `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`.
//!
//! Data keys are generated under the configured key with the S3EC V3 context
//! `{"sealdrop:key": <object key>, "aws:x-amz-cek-alg": "115"}`. Decrypt always
//! pins the key id: the configured key first, then the configured previous keys
//! (objects not yet rotated), so a ciphertext blob can never make the broker use
//! an arbitrary key.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use sealdrop_envelope::{
    ContentCipher, ContentMetadata, DataKey, EncryptionContext, KeyWrapping, StoredContext,
};
use zeroize::Zeroizing;

use super::{KeyError, KeyProvider, NewDataKey, OpenedDataKey};

/// The KMS key provider.
pub struct KmsProvider {
    client: Client,
    key_id: String,
    previous_key_ids: Vec<String>,
}

impl KmsProvider {
    /// A provider generating under `key_id` and also decrypting with `previous_key_ids`.
    pub fn new(client: Client, key_id: String, previous_key_ids: Vec<String>) -> KmsProvider {
        KmsProvider {
            client,
            key_id,
            previous_key_ids,
        }
    }

    /// The SDK client (for operator commands).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn context_map(context: &StoredContext) -> HashMap<String, String> {
    context
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn data_key(blob: Option<Blob>) -> Result<DataKey, KeyError> {
    let bytes = Zeroizing::new(
        blob.ok_or_else(|| KeyError::Upstream("KMS returned no plaintext".into()))?
            .into_inner(),
    );
    DataKey::from_slice(&bytes)
        .map_err(|_| KeyError::Upstream("KMS returned a data key of the wrong length".into()))
}

/// What a failed KMS call means for us.
enum Failure {
    /// Not this key (or not allowed with it): try the next configured one.
    WrongKey(String),
    Fatal(KeyError),
}

fn classify<E: ProvideErrorMetadata, R>(err: SdkError<E, R>) -> Failure {
    match &err {
        SdkError::TimeoutError(_) => Failure::Fatal(KeyError::Unavailable("timed out".into())),
        SdkError::DispatchFailure(_) => {
            Failure::Fatal(KeyError::Unavailable("connection failed".into()))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = service.err().message().unwrap_or("");
            match code {
                // AWS answers IncorrectKeyException for a blob of another key; moto
                // answers AccessDeniedException.
                "IncorrectKeyException" | "AccessDeniedException" => {
                    Failure::WrongKey(format!("{code}: {message}"))
                }
                "InvalidCiphertextException" => Failure::Fatal(KeyError::Integrity(
                    "integrity check failed: KMS rejected the wrapped data key or its encryption \
                     context (the object's metadata was modified)"
                        .into(),
                )),
                "ThrottlingException" | "KMSInternalException" | "DependencyTimeoutException" => {
                    Failure::Fatal(KeyError::Unavailable(code.into()))
                }
                _ => Failure::Fatal(KeyError::Upstream(format!("{code}: {message}"))),
            }
        }
        _ => Failure::Fatal(KeyError::Upstream(err.to_string())),
    }
}

fn fatal(failure: Failure) -> KeyError {
    match failure {
        Failure::WrongKey(why) => KeyError::Upstream(why),
        Failure::Fatal(e) => e,
    }
}

/// Every configured key refused the wrapped data key. AWS says
/// IncorrectKeyException for a blob of another key and InvalidCiphertextException
/// for a damaged one, but other KMS implementations (moto) answer AccessDenied
/// for both — so all that is certain is that no trusted key opens it.
fn no_key_worked(last: Option<String>) -> KeyError {
    tracing::warn!(
        last_error = last.as_deref().unwrap_or(""),
        "no configured KMS key unwraps a data key"
    );
    KeyError::Integrity(
        "integrity check failed: no configured KMS key can unwrap this object's data key \
         (its metadata was modified, or it is wrapped by a key this broker is not configured \
         to use: see kms_previous_key_ids; if every object fails like this, check that the \
         broker's identity has kms:Decrypt on its keys)"
            .into(),
    )
}

impl KmsProvider {
    /// Checks the S3EC context rule for the object being opened.
    fn bound_context<'m>(
        metadata: &'m ContentMetadata,
        object_key: &str,
    ) -> Result<&'m StoredContext, KeyError> {
        let KeyWrapping::Kms { context } = metadata.wrapping() else {
            return Err(KeyError::WrongProvider(
                "this object's data key is wrapped by a local keyring (AES/GCM), not KMS".into(),
            ));
        };
        if !context.matches(&EncryptionContext::for_object(object_key)) {
            return Err(KeyError::Binding(match context.object_key() {
                Some(bound) => format!(
                    "integrity check failed: this object's data key is bound to {bound:?}, not \
                     {object_key:?} (it was copied or renamed); refusing to decrypt"
                ),
                None => "integrity check failed: this object's encryption context does not name \
                         it; refusing to decrypt"
                    .into(),
            }));
        }
        Ok(context)
    }
}

#[async_trait]
impl KeyProvider for KmsProvider {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn generate(&self, object_key: &str) -> Result<NewDataKey, KeyError> {
        let context =
            EncryptionContext::for_object(object_key).to_stored(ContentCipher::CommittingAesGcm);
        let mut out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(&context)))
            .send()
            .await
            .map_err(|e| fatal(classify(e)))?;
        let data_key = data_key(out.plaintext.take())?;
        let encrypted_data_key = out
            .ciphertext_blob
            .take()
            .ok_or_else(|| KeyError::Upstream("KMS returned no ciphertext".into()))?
            .into_inner();
        Ok(NewDataKey {
            data_key,
            encrypted_data_key,
            wrapping: KeyWrapping::Kms { context },
            key_id: out.key_id.unwrap_or_else(|| self.key_id.clone()),
        })
    }

    async fn open(
        &self,
        metadata: &ContentMetadata,
        object_key: &str,
    ) -> Result<OpenedDataKey, KeyError> {
        let context = context_map(Self::bound_context(metadata, object_key)?);
        let mut last = None;
        for key_id in std::iter::once(&self.key_id).chain(&self.previous_key_ids) {
            let result = self
                .client
                .decrypt()
                .key_id(key_id)
                .ciphertext_blob(Blob::new(metadata.encrypted_data_key()))
                .set_encryption_context(Some(context.clone()))
                .send()
                .await;
            match result {
                Ok(mut out) => {
                    return Ok(OpenedDataKey {
                        data_key: data_key(out.plaintext.take())?,
                        key_id: out.key_id.unwrap_or_else(|| key_id.clone()),
                    });
                }
                Err(e) => match classify(e) {
                    Failure::WrongKey(why) => last = Some(why),
                    Failure::Fatal(e) => return Err(e),
                },
            }
        }
        Err(no_key_worked(last))
    }

    async fn rewrap(
        &self,
        metadata: &ContentMetadata,
        object_key: &str,
        to_key_id: &str,
    ) -> Result<(Vec<u8>, String), KeyError> {
        let context = context_map(Self::bound_context(metadata, object_key)?);
        let mut last = None;
        for key_id in std::iter::once(&self.key_id).chain(&self.previous_key_ids) {
            let result = self
                .client
                .re_encrypt()
                .ciphertext_blob(Blob::new(metadata.encrypted_data_key()))
                .source_key_id(key_id)
                .set_source_encryption_context(Some(context.clone()))
                .destination_key_id(to_key_id)
                .set_destination_encryption_context(Some(context.clone()))
                .send()
                .await;
            match result {
                Ok(mut out) => {
                    let blob = out
                        .ciphertext_blob
                        .take()
                        .ok_or_else(|| KeyError::Upstream("KMS returned no ciphertext".into()))?;
                    return Ok((
                        blob.into_inner(),
                        out.key_id.unwrap_or_else(|| to_key_id.to_owned()),
                    ));
                }
                Err(e) => match classify(e) {
                    Failure::WrongKey(why) => last = Some(why),
                    Failure::Fatal(e) => return Err(e),
                },
            }
        }
        Err(no_key_worked(last))
    }

    /// KMS answers and the current key can be used: a disabled key, or one
    /// pending deletion, would refuse every new upload.
    async fn check(&self) -> Result<(), KeyError> {
        let described = self
            .client
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| fatal(classify(e)))?;
        let state = described.key_metadata().and_then(|m| m.key_state());
        match state {
            Some(aws_sdk_kms::types::KeyState::Enabled) => Ok(()),
            Some(other) => Err(KeyError::Unavailable(format!(
                "KMS key {} is {}",
                self.key_id,
                other.as_str()
            ))),
            None => Err(KeyError::Unavailable(format!(
                "KMS did not say whether key {} is enabled",
                self.key_id
            ))),
        }
    }
}
