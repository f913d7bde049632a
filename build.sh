#!/usr/bin/env bash
# Sightline's one entry point.
#   ./build.sh serve [--port N]  build the web app and serve it on 127.0.0.1 (default port 8000)
#   ./build.sh test              install what is missing, then run every test
#   ./build.sh build             build the web app into dist/
#   ./build.sh cli               build the native CLI (target/release/sightline)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"

WASM_TARGET=wasm32-unknown-unknown
# wasm-bindgen's CLI must be exactly the version of the crate the wasm was built with.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "install these packages with your package manager: $*"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_wasm_tools() {
  if ! rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
    log "adding the $WASM_TARGET target"
    rustup target add "$WASM_TARGET"
  fi
  local want; want=$(wasm_bindgen_version)
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    log "installing wasm-bindgen-cli $want (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
  command -v wasm-opt >/dev/null || { log "installing binaryen (wasm-opt)"; apt_install binaryen || true; }
}

ensure_browser_tools() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing+=(mesa-vulkan-drivers)
  command -v node >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  # npm records what it installed in node_modules/.package-lock.json: install again when the
  # lock file is newer (a package was added or changed).
  local installed=tests/browser/node_modules/.package-lock.json
  if [ ! -f "$installed" ] || [ tests/browser/package-lock.json -nt "$installed" ]; then
    log "installing the browser tests' npm packages"
    (cd tests/browser && npm ci --no-audit --no-fund --silent)
  fi
}

build_cli() {
  log "building the native CLI"
  cargo build --release --bin sightline
}

# Older binaryen releases (Debian's 108) emit tables some engines reject, so an optimized module
# is kept only if it still instantiates.
optimize_wasm() {
  local dir=$1
  command -v wasm-opt >/dev/null || { log "wasm-opt not found; keeping the unoptimized wasm"; return; }
  wasm-opt -O3 "$dir/engine_bg.wasm" -o "$dir/engine_bg.opt.wasm" 2>/dev/null || true
  if [ -f "$dir/engine_bg.opt.wasm" ]; then
    cp "$dir/engine_bg.wasm" "$dir/engine_bg.plain.wasm"
    mv "$dir/engine_bg.opt.wasm" "$dir/engine_bg.wasm"
    if command -v node >/dev/null && node tests/browser/check-engine.mjs "$dir" >/dev/null 2>&1; then
      rm "$dir/engine_bg.plain.wasm"
      return
    fi
    mv "$dir/engine_bg.plain.wasm" "$dir/engine_bg.wasm"
  fi
  log "this wasm-opt breaks the module; keeping the unoptimized wasm"
}

build_web() {
  ensure_wasm_tools
  log "building the wasm engine (release, SIMD)"
  cargo build --lib --release --target "$WASM_TARGET"
  log "assembling dist/"
  rm -rf dist
  mkdir -p dist
  wasm-bindgen --target web --no-typescript --out-dir dist --out-name engine \
    "target/$WASM_TARGET/release/sightline.wasm"
  optimize_wasm dist
  cp -R www/. dist/
  mkdir -p dist/docs
  cp docs/embed.html dist/docs/
  # The documentation's generative example: the random LLaVA test checkpoint (300 KB), until a
  # trained default generative model ships.
  mkdir -p dist/examples/llava-random
  (cd tests/fixtures/llava-random-a && cp config.json model.safetensors tokenizer.json tokenizer_config.json \
    processor_config.json generation_config.json chat_template.jinja image.png ../../../dist/examples/llava-random/)
  log "dist/ is ready ($(du -sh dist | cut -f1))"
}

serve() {
  local port=8000
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="${2:?--port needs a number}"; shift 2 ;;
      --port=*) port="${1#--port=}"; shift ;;
      *) die "unknown serve option: $1" ;;
    esac
  done
  build_web
  build_cli
  log "open http://127.0.0.1:$port/"
  exec target/release/sightline serve --dir dist --port "$port"
}

run_tests() {
  ensure_wasm_tools
  ensure_browser_tools
  # ensure_browser_tools installed a Vulkan driver: a WebGPU test without an adapter is a failure
  # here, not a skip (tests/common/webgpu.rs).
  export SIGHTLINE_REQUIRE_WEBGPU=1
  log "cargo tests"
  cargo test --release --all-targets
  build_web
  build_cli
  log "browser tests (headless Chromium)"
  node --test tests/browser/
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  test) run_tests ;;
  serve) serve "$@" ;;
  build) build_web ;;
  cli) build_cli ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
