#!/usr/bin/env bash
# The whole test suite, as the README names it and CI runs it.
# Needs the Rust toolchain and python3, both on the machine. The tests that need DynamoDB
# Local and moto arrive with the AWS adapters; this script will install and start them.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --check

echo "== schemas up to date with scripts/build-schemas.py"
python3 scripts/build-schemas.py --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked --all-targets
