//! The API against schemathesis (PyPI): property-based requests derived from
//! the broker's own OpenAPI document, sent to a running `sealdrop serve`
//! (embedded default) as an authenticated user. Nothing may answer 5xx, every
//! answer must match the document (status code, content type, body schema,
//! headers), and the broker must not panic. Bounded and repeatable: a fixed
//! number of examples per operation and a fixed seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use sealdrop_client::NoProgress;
use sealdrop_client::api::Mode;
use sealdrop_tests::{Server, ServerOptions, venv};

/// Examples per operation: enough to reach every parameter's edge cases
/// (schemathesis' coverage phase adds its own), small enough for CI.
const EXAMPLES: &str = "30";

#[test]
fn the_api_holds_to_its_openapi_document_under_schemathesis() {
    let server = Server::embedded(ServerOptions {
        // The campaign is one user's hundreds of calls: keep the budgets out
        // of its way (they have tests of their own).
        env: [
            "SEALDROP_API_RATE_LIMIT_BURST",
            "SEALDROP_API_RATE_LIMIT_PER_MINUTE",
            "SEALDROP_RATE_LIMIT_BURST",
            "SEALDROP_RATE_LIMIT_PER_MINUTE",
        ]
        .into_iter()
        .map(|name| (name.to_owned(), "100000".to_owned()))
        .collect(),
        ..ServerOptions::default()
    })
    .unwrap();
    // Something to list, describe and open.
    let client = server.client(&server.admin_token);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client.upload_reader(
            &b"schemathesis"[..],
            12,
            "probe.bin",
            Mode::Cse,
            false,
            NoProgress,
        ))
        .unwrap();

    let output = Command::new(venv().join("bin/st"))
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", server.url),
            "--url",
            &server.url,
            "--header",
            &format!("Authorization: Bearer {}", server.admin_token),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--max-examples",
            EXAMPLES,
            "--seed",
            "20261206",
            "--no-color",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .expect("schemathesis is in the test venv (cargo xtask setup)");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "schemathesis found failures (report above)"
    );
    assert!(
        report.contains("13/13") || report.contains("Tested:"),
        "schemathesis tested nothing"
    );
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "the broker panicked:\n{logs}");
    // The embedded default prints its first login link once, on purpose;
    // hundreds of authenticated requests must not add the token anywhere.
    let leaks = logs
        .lines()
        .filter(|line| line.contains(&server.admin_token) && !line.contains("#token="))
        .count();
    assert_eq!(leaks, 0, "the bearer token reached the log:\n{logs}");
}
