#!/usr/bin/env bash
# The browser benchmark (`cargo xtask bench browser [-- ARGS]`): builds dist/
# (release) and runs web/bench/run.mjs in headless Chromium through ChromeDriver.
# Without ARGS: the throughput run (5 × 256 MiB), then the memory run (2 GiB).
# With ARGS: one run of run.mjs with them (see its header: --runs, --mib,
# --memory, --workers, --inflight, --segment-kib).
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${SEALDROP_CACHE:-$HOME/.cache/sealdrop}"
export PATH="$cache/tools/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
trunk build --release >&2
if [ "$#" -eq 0 ]; then
  node web/bench/run.mjs
  node web/bench/run.mjs --memory
else
  node web/bench/run.mjs "$@"
fi
