#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo-fuzz + libFuzzer on the nightly toolchain), one target at a
# time, one process, at the lowest CPU priority, then minimizes what it kept into fuzz/corpus/.
# fuzz/seeds/TARGET holds the valid files each target starts from (tools/make_fuzz_seeds.py),
# fuzz/corpus/TARGET the small inputs the fuzzer found that reach code no seed reaches.
#   tools/fuzz.sh                   every target for 30 minutes each
#   tools/fuzz.sh TARGET [SECONDS]  one target (default 1800 s)
#   tools/fuzz.sh all SECONDS       every target for SECONDS each
# Each run grows fuzz/corpus-work/TARGET (from the seeds and the corpus), writes a failing input
# to fuzz/artifacts/TARGET/ and libFuzzer's output to fuzz/logs/TARGET.log, and appends its totals
# (executions, coverage, features, corpus) to fuzz/logs/summary.tsv. An input that fails goes,
# once fixed, to tests/fuzz_regressions/TARGET/, which `cargo test --test fuzz_regressions` replays.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

mapfile -t TARGETS < <(cargo +nightly fuzz list)
target=${1:-all}
seconds=${2:-1800}
[[ $seconds =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$seconds'"
if [ "$target" = all ]; then
  chosen=("${TARGETS[@]}")
else
  printf '%s\n' "${TARGETS[@]}" | grep -qx "$target" || die "unknown target '$target' (known: ${TARGETS[*]})"
  chosen=("$target")
fi

mkdir -p fuzz/logs
# Address Sanitizer and overflow checks (cargo-fuzz's defaults); the build is shared by all targets.
nice -n 19 cargo +nightly fuzz build >&2

for t in "${chosen[@]}"; do
  work=fuzz/corpus-work/$t
  mkdir -p "$work" "fuzz/artifacts/$t"
  cp -n fuzz/seeds/"$t"/* "$work"/
  cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  log=fuzz/logs/$t.log
  printf '==> %s for %s s\n' "$t" "$seconds" >&2
  # A single allocation over 1 GiB, 2 GiB resident or one input running 60 s counts as a failure.
  status=0
  nice -n 19 cargo +nightly fuzz run "$t" "$work" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=60 \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1 || status=$?
  done_line=$(grep -E '^#[0-9]+ +(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || echo "?")
  ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || echo "?")
  outcome=$([ "$status" = 0 ] && echo "no failure" || echo "FAILED (exit $status): see $log and fuzz/artifacts/$t/")
  printf '%s\t%s\t%s s\t%s runs\tcov %s\tft %s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "$runs" "$cov" "$ft" \
    "$outcome" | tee -a fuzz/logs/summary.tsv >&2
  if [ "$status" = 0 ]; then
    # Keeps only inputs that reach code no other input reaches; the committed corpus takes those
    # that are no seed and at most 64 KiB (mutated copies of a whole model stay out of the repo).
    nice -n 19 cargo +nightly fuzz cmin "$t" "$work" >>"$log" 2>&1
    rm -rf "fuzz/corpus/$t"
    mkdir -p "fuzz/corpus/$t"
    for input in "$work"/*; do
      [ "$(stat -c %s "$input")" -le 65536 ] || continue
      for seed in fuzz/seeds/"$t"/*; do cmp -s "$input" "$seed" && continue 2; done
      cp "$input" "fuzz/corpus/$t/"
    done
    printf '    fuzz/corpus/%s: %s inputs, %s\n' "$t" "$(ls "fuzz/corpus/$t" | wc -l)" \
      "$(du -sh "fuzz/corpus/$t" | cut -f1)" >&2
  fi
done
