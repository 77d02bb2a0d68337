//! Bucket-level settings: default encryption (SSE-KMS) and CORS.

use anyhow::{Context, Result, bail};
use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use clap::Subcommand;
use sealdrop_broker::Config;

use sealdrop_server::stack;

#[derive(Subcommand, Debug)]
pub enum EncryptionCommand {
    /// Make SSE-KMS the bucket default: new objects are encrypted at rest with
    /// this key. Existing objects are not: run `sealdrop admin encrypt-existing`.
    Set {
        /// KMS key id, ARN or alias/… (the embedded store: its local key id).
        #[arg(long, value_name = "KEY")]
        kms_key: String,
        /// Enable S3 Bucket Keys (fewer KMS calls, lower cost).
        #[arg(long)]
        bucket_key: bool,
    },
    /// Show the bucket default encryption.
    Get,
    /// Remove the bucket default encryption.
    Clear,
}

#[derive(Subcommand, Debug)]
pub enum CorsCommand {
    /// Allow the web app at these origins to upload and download directly.
    Set {
        /// An allowed origin, e.g. https://files.example.com (repeatable).
        #[arg(long = "origin", value_name = "URL", required = true)]
        origins: Vec<String>,
    },
    /// Show the bucket CORS rules.
    Get,
    /// Remove the bucket CORS rules.
    Clear,
}

pub async fn encryption(config: &Config, command: EncryptionCommand) -> Result<()> {
    let stack = stack::connect(config).await?;
    let client = stack.storage.client();
    let bucket = stack.storage.bucket();
    match command {
        EncryptionCommand::Set {
            kms_key,
            bucket_key,
        } => {
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::AwsKms)
                        .kms_master_key_id(&kms_key)
                        .build()?,
                )
                .bucket_key_enabled(bucket_key)
                .build();
            client
                .put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()?,
                )
                .send()
                .await
                .context("PutBucketEncryption")?;
            println!(
                "bucket {bucket}: default encryption is SSE-KMS with {kms_key}{}",
                if bucket_key {
                    " (bucket key enabled)"
                } else {
                    ""
                }
            );
            println!("existing objects are unchanged: run `sealdrop admin encrypt-existing`");
        }
        EncryptionCommand::Get => {
            match client.get_bucket_encryption().bucket(bucket).send().await {
                Ok(out) => {
                    let rules = out
                        .server_side_encryption_configuration()
                        .map(|c| c.rules())
                        .unwrap_or_default();
                    for rule in rules {
                        let default = rule.apply_server_side_encryption_by_default();
                        println!(
                            "bucket {bucket}: {} key {} bucket key {}",
                            default.map(|d| d.sse_algorithm().as_str()).unwrap_or("?"),
                            default
                                .and_then(|d| d.kms_master_key_id())
                                .unwrap_or("(default)"),
                            if rule.bucket_key_enabled().unwrap_or(false) {
                                "on"
                            } else {
                                "off"
                            }
                        );
                    }
                }
                Err(e) if is_code(&e, "ServerSideEncryptionConfigurationNotFoundError") => {
                    println!("bucket {bucket}: no default encryption");
                }
                Err(e) => return Err(e).context("GetBucketEncryption"),
            }
        }
        EncryptionCommand::Clear => {
            client
                .delete_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .context("DeleteBucketEncryption")?;
            println!("bucket {bucket}: default encryption removed");
        }
    }
    Ok(())
}

pub async fn cors(config: &Config, command: CorsCommand) -> Result<()> {
    let stack = stack::connect(config).await?;
    let client = stack.storage.client();
    let bucket = stack.storage.bucket();
    match command {
        CorsCommand::Set { origins } => {
            for origin in &origins {
                if !(origin.starts_with("https://") || origin.starts_with("http://"))
                    || origin.trim_end_matches('/').matches('/').count() != 2
                {
                    bail!("{origin:?} is not an origin (scheme://host[:port], no path)");
                }
            }
            let rule = CorsRule::builder()
                .set_allowed_origins(Some(
                    origins
                        .iter()
                        .map(|o| o.trim_end_matches('/').to_owned())
                        .collect(),
                ))
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_methods("HEAD")
                .allowed_methods("POST")
                .allowed_headers("*")
                .expose_headers("ETag")
                .expose_headers("x-amz-server-side-encryption")
                .expose_headers("x-amz-server-side-encryption-aws-kms-key-id")
                .expose_headers("x-amz-request-id")
                // Downloads resume with Range requests and read the answer's range.
                .expose_headers("Content-Range")
                .max_age_seconds(3600)
                .build()?;
            client
                .put_bucket_cors()
                .bucket(bucket)
                .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build()?)
                .send()
                .await
                .context("PutBucketCors")?;
            println!("bucket {bucket}: CORS allows {}", origins.join(", "));
        }
        CorsCommand::Get => match client.get_bucket_cors().bucket(bucket).send().await {
            Ok(out) => {
                for rule in out.cors_rules() {
                    println!(
                        "origins {:?} methods {:?} expose {:?}",
                        rule.allowed_origins(),
                        rule.allowed_methods(),
                        rule.expose_headers()
                    );
                }
            }
            Err(e) if is_code(&e, "NoSuchCORSConfiguration") => {
                println!("bucket {bucket}: no CORS rules");
            }
            Err(e) => return Err(e).context("GetBucketCors"),
        },
        CorsCommand::Clear => {
            client
                .delete_bucket_cors()
                .bucket(bucket)
                .send()
                .await
                .context("DeleteBucketCors")?;
            println!("bucket {bucket}: CORS rules removed");
        }
    }
    Ok(())
}

fn is_code<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(
    err: &aws_sdk_s3::error::SdkError<E, R>,
    code: &str,
) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some(code)
}
