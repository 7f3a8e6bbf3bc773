#!/bin/sh
# Runs libFuzzer targets built by `make fuzz-build`:
#   sh scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
# Each target starts from its seeds in tests/fuzz/TARGET/ (read only) and a
# scratch corpus in BUILD_DIR/corpus/TARGET/, where new inputs go; crash
# inputs go to BUILD_DIR/artifacts/. The repository is never written to.
# One summary line per target; the whole log is in BUILD_DIR/logs/.
# Exits non-zero if any target found a crash, a failed check or a leak.
set -u
B=$1
SECS=$2
shift 2
TARGETS=$*

# Longest input per target: a command buffer's worth for the parser (twice
# SUP_CLAMD_CMD_MAX, so the -1 cases are reached), a few chunks for the
# framer, a small message for the wire decoder.
max_len() {
	case $1 in
	clamd_parse) echo 8192 ;;
	instream) echo 65536 ;;
	unstuff) echo 16384 ;;
	session) echo 8192 ;;
	contcheck) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

export ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=64:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

mkdir -p "$B/artifacts" "$B/logs"
fail=0
for t in $TARGETS; do
	bin="$B/fuzz_$t"
	log="$B/logs/$t.log"
	if [ ! -x "$bin" ]; then
		echo "fuzz: $t: $bin is missing (make fuzz-build)"
		fail=1
		continue
	fi
	mkdir -p "$B/corpus/$t"
	stamp="$B/logs/$t.start"
	: >"$stamp"
	set -- -max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$B/artifacts/$t-"
	[ -f "tests/fuzz/$t.dict" ] && set -- "$@" -dict="tests/fuzz/$t.dict"
	if "$bin" "$@" "$B/corpus/$t" "tests/fuzz/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/p')
		corp=$(find "$B/corpus/$t" -type f | wc -l)
		echo "fuzz: $t: ok, ${SECS}s, $runs runs, $rate exec/s, $cov, scratch corpus $corp inputs"
	else
		echo "fuzz: $t: FAILED; the end of $log:"
		tail -n 40 "$log" | sed 's/^/    /'
		find "$B/artifacts" -name "$t-*" -newer "$stamp" | while read -r a; do
			echo "fuzz: $t: input saved as $a; reproduce with: $bin $a"
		done
		fail=1
	fi
done
exit $fail
