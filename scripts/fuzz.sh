#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`, clang-14, ASan + UBSan) and runs each for a
# bounded time: scripts/fuzz.sh [seconds-per-target]   (default 30; CI runs 60)
#
# First replays tests/fuzz/regressions/<target>/*, then fuzzes each target from its corpus in
# build/fuzz/corpus/<target>/ (seeded from tests/fuzz/corpus/ and tests/conformance/; the
# corpus grows across local runs, rm -rf build/fuzz/corpus for a fresh start). Fails if any
# target crashes, leaks, times out or runs out of memory; the input that did it is saved in
# build/fuzz/artifacts/<target>/. Environment: APPOSE_FUZZ_TARGETS (space-separated subset),
# APPOSE_WERROR (as scripts/test.sh). See docs/fuzzing.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-30}
cd "$here"

case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2; exit 2 ;;
esac

read -r -a targets <<<"${APPOSE_FUZZ_TARGETS:-fuzz_split_line fuzz_json_parse fuzz_scheme}"
build=build/fuzz
conformance=tests/conformance/messages.jsonl

werror=${APPOSE_WERROR:-$([ -n "${CI:-}" ] && echo ON || echo OFF)}
cmake --preset fuzz -DAPPOSE_WERROR="$werror" >/dev/null
# Two jobs at most: fuzzing shares the machine with other builds.
cmake --build --preset fuzz -j 2 --target "${targets[@]}"

# ---------------------------------------------------------------------------------------------
# Seed corpora. Each seed is named by its SHA-1, as libFuzzer names what it adds, so that
# re-seeding an existing corpus adds nothing twice.
seed_corpora() {
  python3 - "$build/corpus" "$conformance" tests/fuzz/corpus <<'PY'
import hashlib, json, os, sys

out, conformance, committed = sys.argv[1:4]
seeds = {"fuzz_split_line": [], "fuzz_json_parse": [], "fuzz_scheme": []}

# Every conformance line is a line a reader meets; its expected messages, re-serialised, are
# single JSON values.
with open(conformance, encoding="utf-8") as f:
    for text in f:
        if not text.strip():
            continue
        case = json.loads(text)
        if "line_hex" in case:
            line = bytes.fromhex(case["line_hex"])
        else:
            line = case["line"].encode("utf-8")
        seeds["fuzz_split_line"].append(line)
        seeds["fuzz_json_parse"].append(line)
        for message in case.get("messages", []):
            seeds["fuzz_json_parse"].append(
                json.dumps(message, separators=(",", ":")).encode("utf-8"))

# Generated rather than committed: nesting at and beyond the 512-level limit.
for depth in (511, 512, 513):
    seeds["fuzz_json_parse"].append(b"[" * depth + b"]" * depth)
    seeds["fuzz_split_line"].append(b'{"a":' * depth + b"1" + b"}" * depth)

for target, folders in {"fuzz_split_line": ["split_line", "json"],
                        "fuzz_json_parse": ["json", "split_line"],
                        "fuzz_scheme": ["scheme"]}.items():
    for folder in folders:
        path = os.path.join(committed, folder)
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), "rb") as f:
                seeds[target].append(f.read())

for target, items in seeds.items():
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    for data in items:
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
PY
}
seed_corpora

# ---------------------------------------------------------------------------------------------
# The sanitizers stop at the first error, so that libFuzzer reports it as a crash and saves it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

max_len_of() {
  case "$1" in
    fuzz_split_line) echo 8192 ;;  # glued messages make long lines
    *) echo 4096 ;;
  esac
}
dict_of() {
  case "$1" in
    fuzz_scheme) echo tests/fuzz/scheme.dict ;;
    *) echo tests/fuzz/json.dict ;;
  esac
}

failed=()
summary=()
for target in "${targets[@]}"; do
  exe=$build/tests/fuzz/$target
  artifacts=$build/artifacts/$target
  logs=$build/logs
  mkdir -p "$artifacts" "$logs"

  regressions=()
  if [ -d "tests/fuzz/regressions/$target" ]; then
    while IFS= read -r -d '' f; do regressions+=("$f"); done \
      < <(find "tests/fuzz/regressions/$target" -type f -print0 | sort -z)
  fi
  if [ ${#regressions[@]} -gt 0 ]; then
    echo "fuzz: $target: replaying ${#regressions[@]} regression input(s)"
    if ! "$exe" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
        "${regressions[@]}" >"$logs/$target.regressions.log" 2>&1; then
      echo "fuzz: $target: a regression input fails again; see $logs/$target.regressions.log" >&2
      tail -n 40 "$logs/$target.regressions.log" >&2
      failed+=("$target (regression)")
      continue
    fi
  fi

  log=$logs/$target.log
  echo "fuzz: $target: fuzzing for ${seconds}s (log: $log)"
  status=0
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len_of "$target")" -dict="$(dict_of "$target")" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$build/corpus/$target" >"$log" 2>&1 || status=$?

  # libFuzzer's last status line ("#N DONE cov: C ft: F corp: U/S ...") and final stats.
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  units=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  rss=$(sed -nE 's/^stat::peak_rss_mb: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  files=$(find "$build/corpus/$target" -type f | wc -l)
  line=$(printf '%-16s execs=%s exec/s=%s cov=%s ft=%s corpus=%s units (%s files) rss=%sMB' \
    "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}" "$files" "${rss:-?}")
  if [ "$status" -ne 0 ]; then
    line="$line FAILED (exit $status)"
    failed+=("$target")
    echo "fuzz: $target failed (exit $status); last lines of $log:" >&2
    tail -n 60 "$log" >&2
    echo "fuzz: the failing input is in $artifacts/" >&2
  fi
  echo "fuzz: $line"
  summary+=("$line")
done

echo
echo "fuzz: summary (${seconds}s per target)"
for line in "${summary[@]}"; do echo "  $line"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets passed"
