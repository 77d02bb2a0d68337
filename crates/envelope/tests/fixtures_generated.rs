//! The large interop fixture (5 MiB + 3 bytes, single PUT and multipart) is too
//! big to commit: the official Python S3EC writes it at test time against a
//! moto server this test starts, then the same checks as for the committed
//! fixtures run on it. Needs the test venv (`cargo xtask setup`).
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn venv() -> PathBuf {
    std::env::var_os("SEALDROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/sealdrop/venv")
        })
}

struct Moto(std::process::Child, u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(venv().join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server from the test venv (run `cargo xtask setup`)");
    let moto = Moto(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    moto
}

#[test]
fn official_client_writes_5_mib_plus_3_single_and_multipart_and_we_match_it() {
    let moto = start_moto();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/s3ec_peer.py");
    for multipart in [None, Some("5242880")] {
        let out = tempfile::tempdir().unwrap();
        let mut command = Command::new(venv().join("bin/python"));
        command
            .arg(&script)
            .args(["--endpoint", &format!("http://127.0.0.1:{}", moto.1)])
            .args(["gen-fixtures", "--out"])
            .arg(out.path())
            .args(["--sizes", "5242883", "--formats", "v3,v2"])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1");
        if let Some(part_size) = multipart {
            command.args(["--multipart-part-size", part_size]);
        }
        let status = command.status().unwrap();
        assert!(status.success(), "gen-fixtures failed");
        for format in ["v3", "v2"] {
            let path = out.path().join(format!("{format}-5242883.json"));
            let json = std::fs::read_to_string(&path).unwrap();
            common::check_fixture(&format!("{format}-5242883 multipart={multipart:?}"), &json);
        }
    }
}
