#!/usr/bin/env bats
# The suite's own checks fail when what they check did not happen: a
# replay build that fails, or a replay of no inputs, is no pass.

load helper

ROOT=$BATS_TEST_DIRNAME/..

@test "fuzz replay: a build that fails is reported as a failure" {
	cd "$ROOT"
	run env REPLAY_CC=false FUZZ_OUT="$TMP/fuzz" tests/fuzz/run -r fuzz_event
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"not ok 1 - replay fuzz_event"* ]]
	[[ $output == *"0 passed, 1 failed"* ]]
}

@test "fuzz replay: a target without inputs is reported as a failure" {
	cd "$ROOT"
	mkdir -p "$TMP/corpus/fuzz_event"
	run env FUZZ_CORPUS="$TMP/corpus" FUZZ_OUT="$TMP/fuzz" tests/fuzz/run -r fuzz_event
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"not ok 1 - replay fuzz_event (0 inputs)"* ]]
	[[ $output == *"no inputs in $TMP/corpus/fuzz_event"* ]]
}

@test "fuzz replay: every target replays its whole corpus" {
	cd "$ROOT"
	run env FUZZ_OUT="$TMP/fuzz" tests/fuzz/run -r
	echo "$output"
	[ "$status" -eq 0 ]
	for f in tests/fuzz/fuzz_*.c; do
		t=${f##*/}; t=${t%.c}
		n=$(find "tests/fuzz/corpus/$t" "tests/fuzz/regress/$t" -type f 2>/dev/null | wc -l)
		[ "$n" -gt 0 ]
		grep -qx "ok [0-9]* - replay $t ($n inputs)" <<<"$output"
	done
}
