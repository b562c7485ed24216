#!/usr/bin/env bash
# tests/fuzz/run.sh -- runs the fuzz targets and prints one line per target: executions, speed,
# coverage (libFuzzer's "cov": code edges reached; "ft": features), corpus size and the result.
#   run.sh BUILD_DIR SECONDS RUNS JOBS TARGET...
# Each target runs for SECONDS (or until RUNS executions when RUNS > 0), JOBS targets at a time,
# starting from the committed seeds (tests/fuzz/corpus/<t>) and the regression inputs
# (tests/fuzz/regress/<t>), adding what it finds to BUILD_DIR/corpus/<t>. A crash, leak,
# sanitizer report, timeout (-timeout, 10 s) or allocation above -malloc_limit_mb (1024 MB)
# fails the run; the input is saved under BUILD_DIR/artifacts/<t>/ and the log's tail printed.
# Inputs grow up to FUZZ_MAX_LEN bytes (environment; default 65536).
# Logs: BUILD_DIR/logs/<t>.log; the table also goes to BUILD_DIR/summary.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=$1 seconds=$2 runs=$3 jobs=$4
shift 4
[ $# -gt 0 ] || { echo "run.sh: no targets" >&2; exit 2; }
mkdir -p "$build/logs"

one() {
    local t=$1 build=$2 seconds=$3 runs=$4
    local bin=$build/fuzz_$t log=$build/logs/$t.log work=$build/corpus/$t art=$build/artifacts/$t
    mkdir -p "$work" "$art"
    rm -f "$log.rc"
    local seeds=(tests/fuzz/corpus/$t)
    [ -d tests/fuzz/regress/$t ] && seeds+=(tests/fuzz/regress/$t)
    local dict=()
    [ -f tests/fuzz/$t.dict ] && dict=(-dict=tests/fuzz/$t.dict)
    # detect_leaks: LeakSanitizer after each run; the limits make a forged size show up as a
    # failure instead of a slow swap storm.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$bin" -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -max_len="${FUZZ_MAX_LEN:-65536}" -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
    echo $? >"$log.rc"
}
export -f one

start=$(date +%s)
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "$build" "$seconds" "$runs"

status=0
{
    printf '%-12s %14s %9s %7s %8s %8s  %s\n' target executions exec/s cov ft corpus result
    for t in "$@"; do
        log=$build/logs/$t.log
        rc=$(cat "$log.rc" 2>/dev/null || echo 99)
        execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
        speed=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
        ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
        corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
        if [ "$rc" = 0 ]; then result=ok; else result="FAILED (exit $rc, see $log)"; status=1; fi
        printf '%-12s %14s %9s %7s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
    done
    echo "($# targets, ${seconds} s each (runs limit $runs), inputs up to ${FUZZ_MAX_LEN:-65536} bytes, $jobs at a time, $(( $(date +%s) - start )) s wall)"
} | tee "$build/summary.txt"

if [ $status -ne 0 ]; then
    for t in "$@"; do
        if [ "$(cat "$build/logs/$t.log.rc" 2>/dev/null)" != 0 ]; then
            echo "=== $t: last lines of $build/logs/$t.log"
            tail -n 40 "$build/logs/$t.log"
        fi
    done
fi
exit $status
