#!/usr/bin/env bats
# aggpub: exact duplicate shares, reproducibility, at-least-once delivery
# across aggd restarts, 4xx/5xx handling, the NDJSON pipelines, usage.

load helper
bats_require_minimum_version 1.5.0

# [received, unique, duplicates] from /stats
counts() {
	get "$AGGD_URL/stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]'
}

# wait_received_n N: until /stats shows at least N events received
wait_received_n() {
	wait_received $(($1 - 1))
}

# Waits (up to 60 s) until /stats shows more than $1 events received.
wait_received() {
	local i
	for i in $(seq 1 1200); do
		[ "$(get "$AGGD_URL/stats" | jq '.received // 0')" -gt "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

@test "defaults: 5000 events, exactly 4000 unique and 1000 duplicates" {
	start_aggd
	run aggpub
	[ "$status" -eq 0 ]
	[[ $output == *"aggpub: sent 5000 events: 4000 unique, 1000 duplicates, 0 retries"* ]]
	[ "$(counts)" = '[5000,4000,1000]' ]
	[ "$(get "$AGGD_URL/events?limit=1" | jq .total)" = 4000 ]
	[ "$(get "$AGGD_URL/stats" | jq '.topics | length')" = 10 ]
}

@test "exact counts for other sizes, shares, batches and concurrency" {
	start_aggd
	# Each run has its own seed, so the runs share no event.
	aggpub -q -n 1000 -D 0 -s 11
	[ "$(counts)" = '[1000,1000,0]' ]
	aggpub -q -n 3000 -D 0.5 -s 12 -b 7 -c 3
	[ "$(counts)" = '[4000,2500,1500]' ]
	aggpub -q -n 1001 -D 20% -s 13 -b 1000 -c 1	# round(200.2) = 200
	[ "$(counts)" = '[5001,3301,1700]' ]
	aggpub -q -n 7 -D 0.99 -s 14	# capped at N - 1: one original
	[ "$(counts)" = '[5008,3302,1706]' ]
	run aggpub -n 0
	[ "$status" -eq 0 ]
	[ "$(counts)" = '[5008,3302,1706]' ]
}

@test "-o -: NDJSON on standard output, reproducible, exact share, spread, valid events" {
	aggpub -o - -n 2000 >"$TMP/a" 2>"$TMP/err"
	grep -q 'wrote 2000 events: 1600 unique, 400 duplicates' "$TMP/err"
	aggpub -q -o - -n 2000 -b 7 -c 1 >"$TMP/b"
	cmp "$TMP/a" "$TMP/b"			# same seed: same bytes
	aggpub -q -o "$TMP/file" -n 2000
	cmp "$TMP/a" "$TMP/file"		# -o FILE: the same, in the file
	aggpub -q -o - -n 2000 -s 2 >"$TMP/c"
	! cmp -s "$TMP/a" "$TMP/c"		# another seed: other events
	[ "$(wc -l <"$TMP/a")" = 2000 ]
	# Duplicates are byte-identical lines: 1600 distinct lines, 1600 ids.
	[ "$(sort -u "$TMP/a" | wc -l)" = 1600 ]
	[ "$(jq -r '.topic + " " + .event_id' "$TMP/a" | sort -u | wc -l)" = 1600 ]
	[ "$(jq -r .topic "$TMP/a" | sort -u | wc -l)" = 10 ]
	# Every event follows the rules' shapes.
	[ "$(jq -c 'select((.event_id | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")) and
	    (.timestamp | test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$")) and
	    (.source | length > 0) and (.payload | type == "object") and
	    (.payload.meta | type == "object"))' "$TMP/a" | wc -l)" = 2000 ]
	# Re-sends follow their originals, inside batches of 100 and across.
	awk '{ if ($0 in seen) { if (int(seen[$0] / 100) == int(NR / 100)) i++; else x++ }
	    else seen[$0] = NR } END { print i, x; exit !(i > 0 && x > 0 && i + x == 400) }' "$TMP/a"
	[ "$(aggpub -q -o - -n 50 -T 3 | jq -r .topic | sort -u | tr '\n' ' ')" = "orders payments shipments " ]
}

@test "aggpub sends by default, whatever its standard output is: a file, a pipe, a cron job's" {
	start_aggd
	aggpub -n 500 >"$TMP/pub.log" 2>&1
	grep -q 'sent 500 events: 400 unique, 100 duplicates' "$TMP/pub.log"
	[ "$(counts)" = '[500,400,100]' ]
	aggpub -q -n 500 | cat >"$TMP/out"
	[ ! -s "$TMP/out" ]			# nothing on standard output
	[ "$(counts)" = '[1000,400,600]' ]
	# -o FILE that cannot be written: exit 1, one line, nothing sent
	run aggpub -o "$TMP/no/such/dir/x" -n 10
	[ "$status" -eq 1 ]
	[ "$output" = "aggpub: $TMP/no/such/dir/x: No such file or directory" ]
	[ "$(counts)" = '[1000,400,600]' ]
}

@test "aggpub takes aggd's base URL or any of its paths, as every tool does" {
	start_aggd
	for u in "$AGGD_URL" "$AGGD_URL/" "$AGGD_URL/publish" "$AGGD_URL/stats" \
	    "$AGGD_URL/events/"; do
		run aggpub -q -n 10 -s 7 -u "$u"
		[ "$status" -eq 0 ] || { echo "$u: $output"; false; }
	done
	[ "$(counts)" = '[50,8,42]' ]
	AGGREGATOR_URL=$AGGD_URL run aggpub -q -n 10 -s 7
	[ "$status" -eq 0 ]
	[ "$(counts)" = '[60,8,52]' ]
}

@test "a second default send adds only duplicates" {
	start_aggd
	aggpub -q
	run aggpub
	[ "$status" -eq 0 ]
	[[ $output == *"sent 5000 events: 0 unique, 5000 duplicates"* ]]
	[ "$(counts)" = '[10000,4000,6000]' ]
}

@test "aggd stopped and started on the same port mid-run: exact counts" {
	start_aggd
	local port=$AGGD_PORT
	aggpub -n 200000 -b 200 >"$TMP/out" 2>&1 &
	local pub=$!
	wait_received 0
	stop_aggd
	until grep -q retrying "$TMP/out"; do kill -0 "$pub" || false; sleep 0.05; done
	start_aggd -l "127.0.0.1:$port"
	wait "$pub"
	grep -q 'retrying' "$TMP/out"
	grep -Eq 'sent 200000 events: .* [1-9][0-9]* retries' "$TMP/out"
	[ "$(counts)" = '[200000,160000,40000]' ]
}

@test "aggd killed -9 and restarted mid-run: nothing lost, nothing doubled" {
	start_aggd
	local port=$AGGD_PORT
	aggpub -n 200000 -b 200 >"$TMP/out" 2>&1 &
	local pub=$!
	wait_received 20000
	kill9_aggd
	until grep -q retrying "$TMP/out"; do kill -0 "$pub" || false; sleep 0.05; done
	start_aggd -l "127.0.0.1:$port"
	wait_received 60000
	kill9_aggd		# twice in a row
	start_aggd -l "127.0.0.1:$port"
	wait "$pub"
	grep -Eq 'sent 200000 events: .* [1-9][0-9]* retries' "$TMP/out"
	read -r r u d < <(counts | tr '[],' '   ')
	[ "$u" -eq 160000 ]
	[ "$(get "$AGGD_URL/events?limit=1" | jq .total)" = 160000 ]
	[ "$r" -eq $((u + d)) ]
	# A batch committed just before the kill but not acknowledged is sent
	# again: all 200 of its events are then duplicates, nothing else is.
	[ "$d" -ge 40000 ] && [ $(((d - 40000) % 200)) -eq 0 ]
	[ "$d" -le 42000 ]
}

@test "503 with Retry-After is retried after the delay; counts stay exact" {
	start_aggd --queue 10	# a tiny ingest queue: concurrent batches overflow it
	SECONDS=0
	run aggpub -n 400 -b 50 -c 4
	[ "$status" -eq 0 ]
	[[ $output == *"503 ingest queue is full"*"; retrying"* ]]
	[[ $output =~ sent\ 400\ events:\ 320\ unique,\ 80\ duplicates,\ [1-9][0-9]*\ retries ]]
	[ "$SECONDS" -ge 1 ]	# Retry-After: 1, not the 100 ms backoff
	[ "$(counts)" = '[400,320,80]' ]
}

@test "4xx is permanent: a wrong token fails at once with aggd's message" {
	start_aggd -k secret
	SECONDS=0
	AGG_TOKEN=wrong run aggpub -n 500
	[ "$status" -eq 1 ]
	[[ $output == "aggpub: POST $AGGREGATOR_URL: 401 "* ]]
	[[ $output != *retrying* ]]
	[ "$SECONDS" -lt 3 ]
	[ "$(get -H 'Authorization: Bearer secret' "$AGGD_URL/stats" | jq .received)" = 0 ]
	AGG_TOKEN=wrong aggpub -q -n 500 -k secret	# the flag wins
	[ "$(get -H 'Authorization: Bearer secret' "$AGGD_URL/stats" | jq .received)" = 500 ]
}

@test "408 and 429 are retried like 5xx" {
	for code in '408 Request Timeout' '429 Too Many Requests'; do
		fake_aggd "HTTP/1.1 $code\\r\\nContent-Length: 0\\r\\n\\r\\n"
		run aggpub -n 10 -r 2 -u "$FAKE_URL/publish"
		stop_fake
		echo "$code: $status $output"
		[ "$status" -eq 1 ]
		[[ $output == *"POST $FAKE_URL/publish: ${code%% *} "*"; retrying"* ]]
		[[ $output == *"gave up after 3 tries"* ]]
	done
}

@test "a 2xx that is not aggd's answer: exit 1 with one line; the events not counted as sent" {
	for body in '<html>oops</html>' '{}' '{"accepted":3,"unique":3,"duplicates":0}'; do
		fake_aggd "HTTP/1.1 200 OK\\r\\nContent-Length: ${#body}\\r\\n\\r\\n$body"
		run aggpub -n 10 -b 10 -u "$FAKE_URL/publish"
		stop_fake
		echo "$body: $status $output"
		[ "$status" -eq 1 ]
		[ "${lines[0]}" = "aggpub: POST $FAKE_URL/publish: 200, but not aggd's answer for 10 events: is it aggd's URL?" ]
		[[ $output != *"sent 10 events"* ]]
	done
}

@test "nobody listening: says aggd may not be running, retries -r times, then exit 1" {
	run aggpub -n 10 -r 2 -u http://127.0.0.1:1/publish
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "aggpub: POST http://127.0.0.1:1/publish: connection refused: is aggd running at http://127.0.0.1:1? retrying for up to 1 s" ]
	[ "${lines[1]}" = "aggpub: POST http://127.0.0.1:1/publish: connection refused; gave up after 3 tries" ]
	# the default: 60 re-sends, up to 114 s
	run timeout 1 aggpub -n 10 -u http://127.0.0.1:1
	[[ ${lines[0]} == *"retrying for up to 114 s" ]]
}

@test "SIGINT or SIGTERM: the summary of what was acknowledged, exit 1" {
	start_aggd
	aggpub -n 5000000 -b 10 -c 1 >"$TMP/out" 2>&1 &
	pub=$!
	wait_received_n 500
	kill -INT "$pub"
	rc=0
	wait "$pub" || rc=$?
	cat "$TMP/out"
	[ "$rc" = 1 ]
	grep -Eq '^aggpub: interrupted; sent [0-9]+ events: [0-9]+ unique, [0-9]+ duplicates' "$TMP/out"
	# what it says was acknowledged is what aggd has
	sent=$(sed -n 's/^aggpub: interrupted; sent \([0-9]*\) events.*/\1/p' "$TMP/out")
	[ "$sent" -ge 500 ]
	[ "$sent" -le "$(get "$AGGD_URL/stats" | jq .received)" ]
}

@test "on a terminal: one progress line with the share and the time left" {
	start_aggd
	script -qfec "aggpub -n 200000 -b 100 -c 1 -u $AGGD_URL" "$TMP/tty" >/dev/null
	# the line is redrawn in place: carriage returns, no new lines
	grep -aq $'\raggpub: [0-9]*/200000 events ([0-9]*%), 0 retries, [0-9]* events/s, [0-9]* s left' "$TMP/tty"
	grep -aq 'sent 200000 events: 160000 unique' "$TMP/tty"
}

@test "a malformed URL, or one of another protocol, fails at once without retries" {
	for url in 'htp://127.0.0.1/publish' 'http://127.0.0.1:99999/publish'; do
		SECONDS=0
		run aggpub -n 10 -u "$url"
		echo "$url: $status $output ($SECONDS s)"
		[ "$status" -eq 1 ]
		[ "$SECONDS" -lt 5 ]
		[[ $output != *retrying* ]]
		[[ "${lines[0]}" == "aggpub: POST $url: "* ]]
	done
}

@test "the reader closing standard output early: exit 0, no message" {
	run bash -c 'aggpub -o - -n 100000 | head -c 1 >/dev/null; echo "${PIPESTATUS[0]}"'
	[ "$output" = 0 ]
}

@test "a 1500-byte token: aggpub, aggstat and aggevents send it whole" {
	tok=$(head -c 1500 /dev/zero | tr '\0' k)
	start_aggd -k "$tok"
	AGG_TOKEN=$tok run aggpub -q -n 10
	[ "$status" -eq 0 ]
	AGG_TOKEN=$tok run aggstat -j
	[ "$status" -eq 0 ]
	[ "$(jq .received <<<"$output")" = 10 ]
	AGG_TOKEN=$tok run aggevents -n 1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "aggpub | aggd -x loads a store end to end" {
	aggpub -q -o - -n 2000 | aggd -x -l 127.0.0.1:0 -d "$AGGD_DB" 2>"$TMP/x.log"
	start_aggd
	[ "$(counts)" = '[2000,1600,400]' ]
	[ "$(get "$AGGD_URL/events?limit=1" | jq .total)" = 1600 ]
}

@test "aggpub - and files: bad lines reported with their number, good ones stored" {
	start_aggd
	aggpub -q -o - -n 3 -D 0 -s 5 >"$TMP/good"
	{
		sed -n 1p "$TMP/good"
		echo 'not json'
		sed -n 2p "$TMP/good"
		echo '{"topic":"t","event_id":"x","timestamp":"2025-02-30T00:00:00Z","source":"s","payload":{}}'
		echo
		sed -n 3p "$TMP/good" | tr -d '\n'	# no final newline
	} >"$TMP/in"
	run aggpub - <"$TMP/in"
	[ "$status" -eq 1 ]
	[[ $output == *"aggpub: stdin:2: "* ]]
	[[ $output == *"aggpub: stdin:4: timestamp: "* ]]
	[[ $output == *"sent 3 events: 3 unique, 0 duplicates"* ]]
	[ "$(counts)" = '[3,3,0]' ]
	run aggpub "$TMP/in" "$TMP/missing"
	[ "$status" -eq 1 ]
	[[ $output == *"aggpub: $TMP/in:2: "* ]]
	[[ $output == *"aggpub: $TMP/missing: No such file or directory"* ]]
	[ "$(counts)" = '[6,3,3]' ]
	# The events come back as they were sent.
	[ "$(get "$AGGD_URL/events" | jq -c '.events[] | del(.seq, .received_at)')" = "$(cat "$TMP/good")" ]
}

@test "tail -F | aggpub -: a partial batch leaves when the input pauses" {
	start_aggd
	aggpub -q -o - -n 8 -D 0 >"$TMP/events"
	: >"$TMP/app.ndjson"
	mkfifo "$TMP/pipe"
	tail -n +1 -F "$TMP/app.ndjson" >"$TMP/pipe" 2>/dev/null &
	local tailpid=$!
	aggpub -q - <"$TMP/pipe" &
	local pub=$!
	head -5 "$TMP/events" >>"$TMP/app.ndjson"
	for i in $(seq 1 600); do [ "$(counts)" = '[5,5,0]' ] && break; sleep 0.05; done
	[ "$(counts)" = '[5,5,0]' ]
	tail -3 "$TMP/events" >>"$TMP/app.ndjson"
	for i in $(seq 1 600); do [ "$(counts)" = '[8,8,0]' ] && break; sleep 0.05; done
	[ "$(counts)" = '[8,8,0]' ]
	kill "$tailpid"
	wait "$pub"		# end of input: exits 0
}

@test "bad usage: one line that says what and where to look, exit 2; --help and --version exit 0" {
	for args in "-x" "--bogus" "-n" "-n abc" "-n -1" "-D 1" "-D -0.1" "-D 100%" \
	    "-D -0" "-D 0x.8" "-D 2e-1" \
	    "-b 0" "-c 0" "-T 0" "-r x" "-n 5 -" "-s 3 file" "-o - file" "-o ''"; do
		eval "run -2 aggpub $args"
		echo "$args: $output"
		[ "${#lines[@]}" = 1 ]
		[[ $output == "aggpub: "*"; try 'aggpub --help'" ]]
	done
	[ -z "$(aggpub -x 2>/dev/null)" ]
	run -2 "$AGG_BIN/aggpub" -x
	[ "$output" = "aggpub: unknown option -x; try 'aggpub --help'" ]
	run -2 aggpub --quiet=1
	[ "$output" = "aggpub: option --quiet takes no value; try 'aggpub --help'" ]
	run -2 aggpub --co 3
	[ "$output" = "aggpub: option --co is ambiguous: --count, --concurrency; try 'aggpub --help'" ]
	run -2 aggpub -n
	[ "$output" = "aggpub: option -n needs a value; try 'aggpub --help'" ]
	run aggpub --help
	[ "$status" -eq 0 ]
	for o in -n --count -D --duplicates -T --topics -s --seed -b --batch \
	    -c --concurrency -r --retries -u --url -k --token -o --output \
	    -q --quiet -h --help -V --version; do
		[[ $output == *" $o"[\ ,]* ]]
	done
	run aggpub -V
	[ "$output" = "aggpub 1.2.0" ]
}

@test "the letters of 1.1: -d and -t still work, with a warning" {
	start_aggd -k secret
	run aggpub -n 10 -d 0 -t secret
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "aggpub: -d is -D (--duplicates) now; -d goes away in agg 2.0" ]]
	[[ ${lines[1]} == "aggpub: -t is -k (--token) now; -t goes away in agg 2.0" ]]
	[[ $output == *"sent 10 events: 10 unique, 0 duplicates"* ]]
}
