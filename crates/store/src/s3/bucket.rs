//! Bucket operations: create, head, location, list, delete, and the stored configuration
//! (default encryption, CORS).

use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::Answer;
use super::S3Impl;
use super::request::ts;
use crate::engine::{BucketEncryption, BucketRecord};

/// Changes a bucket's stored configuration in one transaction.
async fn update_bucket(
    s3: &S3Impl,
    bucket: String,
    f: impl FnOnce(&mut BucketRecord) + Send + 'static,
) -> S3Result<()> {
    s3.run(move |e| e.update_bucket(&bucket, f)).await
}

pub(super) async fn create_bucket(
    s3: &S3Impl,
    input: CreateBucketInput,
) -> Answer<CreateBucketOutput> {
    let bucket = input.bucket;
    let b = bucket.clone();
    let created = s3.run(move |e| e.create_bucket(&b)).await?;
    if !created {
        return Err(s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ));
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{bucket}")),
    }))
}

pub(super) async fn head_bucket(s3: &S3Impl, input: HeadBucketInput) -> Answer<HeadBucketOutput> {
    s3.bucket(&input.bucket).await?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(s3.inner.config.region.clone()),
        ..Default::default()
    }))
}

pub(super) async fn get_bucket_location(
    s3: &S3Impl,
    input: GetBucketLocationInput,
) -> Answer<GetBucketLocationOutput> {
    s3.bucket(&input.bucket).await?;
    let region = &s3.inner.config.region;
    let location_constraint =
        (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

pub(super) async fn list_buckets(
    s3: &S3Impl,
    _input: ListBucketsInput,
) -> Answer<ListBucketsOutput> {
    let list = s3.run(|e| e.list_buckets()).await?;
    let region = s3.inner.config.region.clone();
    let buckets = list
        .into_iter()
        .map(|(name, rec)| Bucket {
            name: Some(name),
            creation_date: Some(ts(rec.created_ms)),
            bucket_region: Some(region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(Owner {
            display_name: Some("sealdrop".into()),
            id: Some("sealdrop".into()),
        }),
        ..Default::default()
    }))
}

pub(super) async fn delete_bucket(
    s3: &S3Impl,
    input: DeleteBucketInput,
) -> Answer<DeleteBucketOutput> {
    let b = input.bucket;
    s3.run(move |e| e.delete_bucket(&b)).await?;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}

pub(super) async fn put_bucket_encryption(
    s3: &S3Impl,
    input: PutBucketEncryptionInput,
) -> Answer<PutBucketEncryptionOutput> {
    let rule = input
        .server_side_encryption_configuration
        .rules
        .first()
        .ok_or_else(|| s3_error!(MalformedXML, "at least one rule is required"))?;
    let by_default = rule
        .apply_server_side_encryption_by_default
        .as_ref()
        .ok_or_else(|| {
            s3_error!(
                MalformedXML,
                "ApplyServerSideEncryptionByDefault is required"
            )
        })?;
    let algorithm = by_default.sse_algorithm.as_str().to_owned();
    let key_id = by_default
        .kms_master_key_id
        .clone()
        .filter(|k| !k.is_empty());
    match algorithm.as_str() {
        ServerSideEncryption::AWS_KMS => {}
        ServerSideEncryption::AES256 => {
            if key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "KMSMasterKeyID is only allowed with aws:kms"
                ));
            }
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "The encryption method specified is not supported"
            ));
        }
    }
    let enc = BucketEncryption {
        algorithm,
        key_id,
        bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
    };
    update_bucket(s3, input.bucket, |r| r.encryption = Some(enc)).await?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub(super) async fn get_bucket_encryption(
    s3: &S3Impl,
    input: GetBucketEncryptionInput,
) -> Answer<GetBucketEncryptionOutput> {
    let rec = s3.bucket(&input.bucket).await?;
    let enc = rec.encryption.ok_or_else(|| {
        s3_error!(
            ServerSideEncryptionConfigurationNotFoundError,
            "The server side encryption configuration was not found"
        )
    })?;
    let rule = ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
            kms_master_key_id: enc.key_id,
            sse_algorithm: ServerSideEncryption::from(enc.algorithm),
        }),
        bucket_key_enabled: Some(enc.bucket_key_enabled),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![rule],
        }),
    }))
}

pub(super) async fn delete_bucket_encryption(
    s3: &S3Impl,
    input: DeleteBucketEncryptionInput,
) -> Answer<DeleteBucketEncryptionOutput> {
    update_bucket(s3, input.bucket, |r| r.encryption = None).await?;
    Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
}

pub(super) async fn put_bucket_cors(
    s3: &S3Impl,
    input: PutBucketCorsInput,
) -> Answer<PutBucketCorsOutput> {
    if input.cors_configuration.cors_rules.is_empty() {
        return Err(s3_error!(MalformedXML, "at least one CORSRule is required"));
    }
    let cfg = input.cors_configuration;
    update_bucket(s3, input.bucket, |r| r.cors = Some(cfg)).await?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(super) async fn get_bucket_cors(
    s3: &S3Impl,
    input: GetBucketCorsInput,
) -> Answer<GetBucketCorsOutput> {
    let rec = s3.bucket(&input.bucket).await?;
    let cfg = rec.cors.ok_or_else(|| {
        s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        )
    })?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(cfg.cors_rules),
    }))
}

pub(super) async fn delete_bucket_cors(
    s3: &S3Impl,
    input: DeleteBucketCorsInput,
) -> Answer<DeleteBucketCorsOutput> {
    update_bucket(s3, input.bucket, |r| r.cors = None).await?;
    Ok(S3Response::new(DeleteBucketCorsOutput::default()))
}
