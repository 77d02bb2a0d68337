//! `cargo xtask bench [WHAT]`: the benchmarks whose results live in BENCHMARKS.md.

use anyhow::{Result, bail};

use crate::setup::Env;
use crate::{run_cmd, step};

pub fn run(env: &Env, args: &[String]) -> Result<()> {
    let what = args.first().map(String::as_str).unwrap_or("all");
    match what {
        "envelope" | "all" => step("bench: native envelope vs one-shot aes-gcm", || {
            run_cmd(
                env.cargo()
                    .args(["bench", "-p", "sealdrop-envelope", "--bench", "stream"]),
            )
        }),
        other => bail!("unknown benchmark {other:?} (try: envelope, all)"),
    }
}
