#!/usr/bin/env python3
"""Interop peer for sealdrop: drives the official Amazon S3 Encryption Client.

The Rust test-suite runs this script (with the sealdrop Python venv) against a
local S3 + KMS endpoint (moto) to check that sealdrop and the official client
(``amazon-s3-encryption-client-python``) read each other's objects.

Every subcommand prints exactly one JSON line on stdout on success; on failure
it prints a one-line message on stderr and exits non-zero.

Subcommands:
  create-key     create a symmetric KMS key
  create-bucket  create an S3 bucket
  put            encrypt a file with the official client and upload it
  get            download an object and decrypt it with the official client
  gen-fixtures   write JSON interop fixtures (metadata, data key, ciphertext)

Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY);
the region is always us-east-1. ``--endpoint`` serves both S3 and KMS.
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import json
import secrets
import sys
from pathlib import Path

import boto3
from botocore.config import Config
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA512
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials import AlgorithmSuite, CommitmentPolicy, KmsKeyring

REGION = "us-east-1"
CONTENT_TYPE = "application/octet-stream"
FORMATS = ("v3", "v2")
GENERATOR = "amazon-s3-encryption-client-python " + importlib.metadata.version(
    "amazon-s3-encryption-client-python"
)

# V3 (ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY, suite 0x0073) constants.
V3_SUITE_ID = b"\x00\x73"
V3_IV = b"\x01" * 12
V3_MESSAGE_ID_LEN = 28
V3_COMMIT_KEY_LEN = 28


class PeerError(Exception):
    """A failure reported to the caller as a one-line message."""


# ---------------------------------------------------------------- clients


def s3_client(endpoint: str):
    """Return a fresh plain boto3 S3 client for ``endpoint`` (path-style, SigV4)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def kms_client(endpoint: str):
    """Return a boto3 KMS client for ``endpoint``."""
    return boto3.client("kms", endpoint_url=endpoint, region_name=REGION)


def s3ec_client(endpoint: str, kms_key_id: str, fmt: str = "v3", allow_v2: bool = False):
    """Build an official S3 Encryption Client around its own dedicated S3 client.

    ``fmt`` selects what the client writes: ``v3`` is the client default
    (key-committing suite 115, REQUIRE_ENCRYPT_REQUIRE_DECRYPT); ``v2`` uses
    ALG_AES_256_GCM_IV12_TAG16_NO_KDF, which only the FORBID_ENCRYPT_ALLOW_DECRYPT
    policy accepts. ``allow_v2`` lets a V3-writing client read V2 objects
    (REQUIRE_ENCRYPT_ALLOW_DECRYPT); a V2-writing client always can.
    """
    keyring = KmsKeyring(kms_client=kms_client(endpoint), kms_key_id=kms_key_id)
    if fmt == "v2":
        config = S3EncryptionClientConfig(
            keyring=keyring,
            encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
            commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
        )
    elif allow_v2:
        config = S3EncryptionClientConfig(
            keyring=keyring,
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
        )
    else:
        config = S3EncryptionClientConfig(keyring=keyring)
    # The S3EC registers event handlers on the client it wraps: never share it.
    return S3EncryptionClient(s3_client(endpoint), config)


# ---------------------------------------------------------------- helpers


def parse_context(pairs: list[str] | None) -> dict[str, str]:
    """Turn ``["k=v", ...]`` into an encryption-context dict."""
    context = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PeerError(f"bad --context {pair!r}: expected KEY=VALUE")
        context[key] = value
    return context


def deterministic_plaintext(size: int) -> bytes:
    """Return the fixture plaintext of ``size`` bytes: byte i is ``(i*31 + size) % 251``.

    The sequence has period 251, so one period is built and repeated.
    """
    period = bytes((i * 31 + size) % 251 for i in range(251))
    repeats, rest = divmod(size, 251)
    return period * repeats + period[:rest]


def encrypt_and_upload(
    s3ec,
    bucket: str,
    key: str,
    body: bytes,
    context: dict[str, str],
    part_size: int | None = None,
) -> None:
    """Encrypt ``body`` with the official client; multipart when ``part_size`` is set.

    Multipart uses the client's own CreateMultipartUpload / UploadPart /
    CompleteMultipartUpload; parts go in order and the last one carries
    ``IsLastPart=True`` so the client appends the GCM tag. An empty body is
    sent as a single empty last part.
    """
    if part_size is None:
        s3ec.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPE,
            EncryptionContext=context,
        )
        return
    if part_size <= 0:
        raise PeerError("part size must be positive")
    upload_id = s3ec.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType=CONTENT_TYPE, EncryptionContext=context
    )["UploadId"]
    chunks = [body[i : i + part_size] for i in range(0, len(body), part_size)] or [b""]
    try:
        parts = []
        for number, chunk in enumerate(chunks, start=1):
            response = s3ec.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                Body=chunk, IsLastPart=number == len(chunks),
            )
            parts.append({"PartNumber": number, "ETag": response["ETag"]})
        s3ec.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except Exception:
        s3ec.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def download_and_decrypt(s3ec, bucket: str, key: str, context: dict[str, str]) -> bytes:
    """Fetch ``key`` and return the plaintext decrypted by the official client."""
    return s3ec.get_object(Bucket=bucket, Key=key, EncryptionContext=context)["Body"].read()


def stored_metadata(s3, bucket: str, key: str) -> dict[str, str]:
    """Return the object's user metadata as stored (no ``x-amz-meta-`` prefix)."""
    return s3.head_object(Bucket=bucket, Key=key)["Metadata"]


def b64(data: bytes) -> str:
    """Standard base64 with padding, as text."""
    return base64.b64encode(data).decode("ascii")


def unb64(field: str, text: str) -> bytes:
    """Strictly decode base64 ``text`` from metadata field ``field``."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise PeerError(f"{field} is not valid base64: {text!r}") from exc


def unwrap_data_key(kms, fmt: str, metadata: dict[str, str]) -> bytes:
    """Decrypt the stored encrypted data key with KMS, using the stored context."""
    if fmt == "v3":
        edk_field, context_field = "x-amz-3", "x-amz-t"
    else:
        edk_field, context_field = "x-amz-key-v2", "x-amz-matdesc"
    for field in (edk_field, context_field):
        if field not in metadata:
            raise PeerError(f"{fmt} object lacks metadata {field}: {sorted(metadata)}")
    response = kms.decrypt(
        CiphertextBlob=unb64(edk_field, metadata[edk_field]),
        EncryptionContext=json.loads(metadata[context_field]),
    )
    return response["Plaintext"]


def check_decrypts(fmt: str, metadata: dict[str, str], data_key: bytes,
                   ciphertext: bytes, plaintext: bytes) -> None:
    """Independently decrypt ``ciphertext`` with ``data_key``; raise unless it gives ``plaintext``.

    V3: HKDF-SHA512 (salt = x-amz-i, IKM = data key) expands info
    ``00 73 "DERIVEKEY"`` to the 32-byte content key and ``00 73 "COMMITKEY"``
    to the 28-byte commitment, which must equal x-amz-d; then AES-256-GCM with
    IV = twelve 0x01 bytes and AAD = ``00 73``.
    V2: AES-256-GCM with the data key, IV = x-amz-iv, no AAD.
    """
    if len(data_key) != 32:
        raise PeerError(f"data key is {len(data_key)} bytes, expected 32")
    if fmt == "v3":
        message_id = unb64("x-amz-i", metadata["x-amz-i"])
        if len(message_id) != V3_MESSAGE_ID_LEN:
            raise PeerError(f"x-amz-i is {len(message_id)} bytes, expected {V3_MESSAGE_ID_LEN}")

        def expand(info: bytes, length: int) -> bytes:
            hkdf = HKDF(algorithm=SHA512(), length=length, salt=message_id, info=info)
            return hkdf.derive(data_key)

        content_key = expand(V3_SUITE_ID + b"DERIVEKEY", 32)
        commitment = expand(V3_SUITE_ID + b"COMMITKEY", V3_COMMIT_KEY_LEN)
        if commitment != unb64("x-amz-d", metadata["x-amz-d"]):
            raise PeerError("derived key commitment does not match x-amz-d")
        key, iv, aad = content_key, V3_IV, V3_SUITE_ID
    else:
        key, iv, aad = data_key, unb64("x-amz-iv", metadata["x-amz-iv"]), None
    try:
        decrypted = AESGCM(key).decrypt(iv, ciphertext, aad)
    except InvalidTag as exc:
        raise PeerError(
            f"{fmt} ciphertext does not authenticate with the recorded data key"
        ) from exc
    if decrypted != plaintext:
        raise PeerError(f"{fmt} ciphertext decrypts to the wrong plaintext")


def emit(payload: dict) -> None:
    """Print the single JSON result line."""
    print(json.dumps(payload, separators=(",", ":")))


# ---------------------------------------------------------------- subcommands


def cmd_create_key(args) -> None:
    """Create a symmetric KMS key."""
    meta = kms_client(args.endpoint).create_key(
        KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT"
    )["KeyMetadata"]
    emit({"key_id": meta["KeyId"], "arn": meta["Arn"]})


def cmd_create_bucket(args) -> None:
    """Create an S3 bucket."""
    s3_client(args.endpoint).create_bucket(Bucket=args.bucket)
    emit({"bucket": args.bucket})


def cmd_put(args) -> None:
    """Encrypt a local file with the official client and upload it."""
    body = Path(args.file).read_bytes()
    s3ec = s3ec_client(args.endpoint, args.kms_key_id, fmt=args.format)
    part_size = args.part_size if args.multipart else None
    encrypt_and_upload(s3ec, args.bucket, args.key, body, parse_context(args.context), part_size)
    metadata = stored_metadata(s3_client(args.endpoint), args.bucket, args.key)
    emit({"key": args.key, "metadata": metadata})


def cmd_get(args) -> None:
    """Download an object and decrypt it with the official client into a local file."""
    s3ec = s3ec_client(args.endpoint, args.kms_key_id, allow_v2=args.allow_v2)
    plaintext = download_and_decrypt(s3ec, args.bucket, args.key, parse_context(args.context))
    Path(args.out).write_bytes(plaintext)
    emit({"key": args.key, "size": len(plaintext)})


def cmd_gen_fixtures(args) -> None:
    """Write one JSON fixture per (format, size), produced and checked end to end."""
    formats = [f for f in args.formats.split(",") if f]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise PeerError(f"unknown formats {unknown}; expected a subset of {list(FORMATS)}")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError as exc:
        raise PeerError(f"bad --sizes {args.sizes!r}") from exc
    if any(size < 0 for size in sizes):
        raise PeerError("sizes must be non-negative")

    kms = kms_client(args.endpoint)
    key_id = kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["KeyId"]
    s3 = s3_client(args.endpoint)
    bucket = "sealdrop-fixtures-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    written = []
    for fmt in formats:
        s3ec = s3ec_client(args.endpoint, key_id, fmt=fmt)
        for size in sizes:
            name = f"{fmt}-{size}"
            key = f"fixtures/{name}.bin"
            context = {"sealdrop:key": key}
            plaintext = deterministic_plaintext(size)
            encrypt_and_upload(s3ec, bucket, key, plaintext, context, args.multipart_part_size)

            metadata = stored_metadata(s3, bucket, key)
            ciphertext = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            data_key = unwrap_data_key(kms, fmt, metadata)
            check_decrypts(fmt, metadata, data_key, ciphertext, plaintext)
            if download_and_decrypt(s3ec, bucket, key, context) != plaintext:
                raise PeerError(f"official client does not read back {key}")

            fixture = {
                "generator": GENERATOR,
                "format": fmt,
                "size": size,
                "multipart_part_size": args.multipart_part_size,
                "key": key,
                "encryption_context": context,
                "metadata": metadata,
                "data_key": b64(data_key),
                "plaintext": b64(plaintext),
                "ciphertext": b64(ciphertext),
            }
            path = out_dir / f"{name}.json"
            path.write_text(json.dumps(fixture, indent=2) + "\n")
            written.append(str(path))
    emit({"fixtures": written})


# ---------------------------------------------------------------- CLI


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single stderr line (exit 2)."""

    def error(self, message: str):
        """Report a usage error on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Define the command-line interface."""
    endpoint_help = "S3 and KMS endpoint URL, e.g. moto (before or after the subcommand)"
    parser = OneLineParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", help=endpoint_help)
    # Subcommands accept --endpoint too; SUPPRESS keeps a top-level value when absent.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=argparse.SUPPRESS, help=endpoint_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, func) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, parents=[common])
        command.set_defaults(func=func)
        return command

    add("create-key", "create a symmetric KMS key", cmd_create_key)

    p = add("create-bucket", "create an S3 bucket", cmd_create_bucket)
    p.add_argument("--bucket", required=True)

    def add_object(name: str, help_text: str, func, local_file: str) -> argparse.ArgumentParser:
        """A put/get command: the object, the local file (`local_file`), the KMS key and the
        encryption context, which both directions must name alike."""
        command = add(name, help_text, func)
        command.add_argument("--bucket", required=True)
        command.add_argument("--key", required=True)
        command.add_argument(local_file, required=True)
        command.add_argument("--kms-key-id", required=True)
        command.add_argument("--context", action="append", metavar="KEY=VALUE",
                             help="encryption context entry KEY=VALUE (repeatable)")
        return command

    p = add_object("put", "encrypt a file with the official client and upload it", cmd_put,
                   "--file")
    p.add_argument("--format", choices=FORMATS, default="v3")
    p.add_argument("--multipart", action="store_true", help="upload with the multipart API")
    p.add_argument("--part-size", type=int, default=5 * 1024 * 1024, metavar="BYTES",
                   help="multipart part size (default 5 MiB)")

    p = add_object("get", "download an object and decrypt it with the official client", cmd_get,
                   "--out")
    p.add_argument("--allow-v2", action="store_true",
                   help="also accept non-committing V2 objects (REQUIRE_ENCRYPT_ALLOW_DECRYPT)")

    p = add("gen-fixtures", "write JSON interop fixtures", cmd_gen_fixtures)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--sizes", required=True, help="comma-separated plaintext sizes")
    p.add_argument("--formats", default="v3,v2", help="comma-separated subset of v3,v2")
    p.add_argument("--multipart-part-size", type=int, metavar="BYTES",
                   help="write every object with the multipart API in parts of BYTES")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; report any failure as a single stderr line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint is required")
    try:
        args.func(args)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        message = f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__
        if cause is not None and str(cause) not in str(exc):
            message += f" (caused by {type(cause).__name__}: {cause})"
        print(f"s3ec_peer {args.command}: " + " ".join(message.split()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
