#!/usr/bin/env bash
# The browser benchmark (`cargo xtask bench browser [-- ARGS]`): builds the
# benchmark page (web/bench.html: the app with the `bench` feature) into
# dist-bench/ (release) and runs web/bench/run.mjs in headless Chromium through ChromeDriver.
# Without ARGS: the throughput run (5 × 256 MiB), the memory run (2 GiB), and
# the end-to-end upload run (3 × 1 GiB against a release `sealdrop serve`).
# With ARGS: one run of run.mjs with them (see its header: --runs, --mib,
# --memory, --e2e, --trace, --workers, --inflight, --segment-kib).
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${SEALDROP_CACHE:-$HOME/.cache/sealdrop}"
export PATH="$cache/tools/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
trunk build web/bench.html --release --dist dist-bench >&2
if [ "$#" -eq 0 ] || [[ " $* " == *" --e2e "* ]]; then
  cargo build --release -p sealdrop >&2
fi
if [ "$#" -eq 0 ]; then
  node web/bench/run.mjs
  node web/bench/run.mjs --memory
  node web/bench/run.mjs --e2e
else
  node web/bench/run.mjs "$@"
fi
