#!/usr/bin/env bash
# Sightline's one entry point.
#   ./build.sh test            install what is missing, then run every test
#   ./build.sh serve [--port N] build the web app and serve it on 127.0.0.1
#   ./build.sh build           build the web app into dist/
#   ./build.sh cli             build the native CLI (target/release/sightline)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }

build_cli() {
  log "building the native CLI"
  cargo build --release --bin sightline
}

run_tests() {
  log "cargo tests"
  cargo test --all-targets
}

case "${1:-}" in
  test) run_tests ;;
  cli) build_cli ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
