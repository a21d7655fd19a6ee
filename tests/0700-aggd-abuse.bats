#!/usr/bin/env bats
# Abuse: floods of idle connections, slowloris, huge bodies and headers,
# and hostile JSON.  Each gets its precise answer, aggd's memory stays
# bounded, and a normal client is served throughout.
#
# Bounds stated here: aggd's peak RSS (VmHWM) stays under 128 MiB (1 GiB
# under ASan or valgrind, whose shadow memory is not aggd's); a normal
# client's p99 latency stays under 50 ms (500 ms under valgrind, 100 ms
# under ASan).

load helper

setup_file() {
	cc -O2 -o "$BATS_FILE_TMPDIR/aggabuse" "$BATS_TEST_DIRNAME/tools/aggabuse.c"
}

setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/agg.XXXXXX")
	AGGD_DB=$TMP/store/dedup.db
	AGGD_PID=
	ABUSE=$BATS_FILE_TMPDIR/aggabuse
	[ -z "${AGG_PG:-}" ] || pg_database
	RSS_MAX_KB=$((128 * 1024))
	P99_MAX_MS=50 SANITIZED=
	if [ "${AGG_VALGRIND:-}" = 1 ]; then
		RSS_MAX_KB=$((1024 * 1024)) P99_MAX_MS=500
	elif grep -q __asan_init "$AGG_BIN/aggd"; then
		RSS_MAX_KB=$((1024 * 1024)) P99_MAX_MS=100 SANITIZED=1
	fi
}

# rss_bounded: aggd's peak RSS so far is under the bound
rss_bounded() {
	local hwm
	hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$AGGD_PID/status")
	echo "aggd VmHWM ${hwm} kB (bound $RSS_MAX_KB kB)"
	[ "$hwm" -lt "$RSS_MAX_KB" ]
}

# served: a normal request gets its answer
served() {
	run get "$AGGD_URL/healthz"
	[ "$(last_code)" = 200 ]
	run publish "$(event ok "served-$BATS_TEST_NUMBER-$RANDOM$RANDOM")"
	[ "$(last_code)" = 200 ]
}

# baseline: the normal client alone for 2 s on the aggd just started, so
# that the bound below follows what the machine gives right now: another
# job on both cores stretches every latency, aggd's or not.  Sets
# BASE_P99_MS.
baseline() {
	local out
	out=$("$ABUSE" idle "127.0.0.1:$AGGD_PORT" 0 2)
	BASE_P99_MS=$(sed -n 's/.* p99_ms=\([0-9.]*\) .*/\1/p' <<<"$out")
	echo "normal client alone: $out"
}

# normal_ok OUTPUT: an aggabuse normal-client report with every request
# answered 200 and p99 under the bound: P99_MAX_MS, or 20 x the p99 of
# the same client alone just before (baseline) on a busy machine (before
# the fixes these tests guard, p99 was 80-4000 x the client's alone)
normal_ok() {
	local requests ok p99 bound=$P99_MAX_MS
	echo "normal client: $1"
	requests=$(sed -n 's/.* requests=\([0-9]*\) .*/\1/p' <<<"$1")
	ok=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$1")
	p99=$(sed -n 's/.* p99_ms=\([0-9.]*\) .*/\1/p' <<<"$1")
	[ "$requests" -ge "${NORMAL_MIN_REQUESTS:-100}" ]
	[ "$ok" = "$requests" ]
	[ -z "$bound" ] && return 0
	[ -z "${BASE_P99_MS:-}" ] ||
	    bound=$(awk -v m="$bound" -v b="$BASE_P99_MS" \
	    'BEGIN { print (20 * b > m) ? 20 * b : m }')
	echo "p99 bound: $bound ms"
	awk -v p="$p99" -v m="$bound" 'BEGIN { exit !(p < m) }'
}

fds() {
	ls "/proc/$AGGD_PID/fd" | wc -l
}

# read_by_aggd: until aggd has accepted the one client connection and read
# all it sent (its socket's receive queue in /proc/net/tcp is empty)
read_by_aggd() {
	local port i
	port=$(printf '%04X' "$AGGD_PORT")
	for i in $(seq 600); do
		# local address :port, state 01 (established), rx_queue 0
		awk -v p=":$port" '$2 ~ p"$" && $4 == "01" { split($5, q, ":");
		    if (q[2] ~ /^0+$/) found = 1 } END { exit !found }' /proc/net/tcp &&
		    return 0
		sleep 0.05
	done
	return 1
}

@test "10,000 idle connections: a normal client is served with p99 < 50 ms; all released after" {
	ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 10100 ] || skip "RLIMIT_NOFILE hard limit below 10100"
	start_aggd
	baseline
	fds0=$(fds)
	run "$ABUSE" idle "127.0.0.1:$AGGD_PORT" 10000 15
	[ "$status" = 0 ]
	normal_ok "$output"
	# aggd holds 10000 connections (-c): each new one of the normal client
	# may close the oldest idle one, nothing else is dropped
	idle=$(sed -n 's/^idle_open=\([0-9]*\) .*/\1/p' <<<"$output")
	[ "$idle" -ge 9950 ]
	rss_bounded
	# the flood is gone: aggd's descriptors and connections return
	for i in $(seq 600); do [ "$(fds)" -le $((fds0 + 2)) ] && break; sleep 0.1; done
	[ "$(fds)" -le $((fds0 + 2)) ]
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_http_connections_open" {print $2}')" = 1 ]
	served
	stop_aggd
}

@test "slowloris headers and body: 408 within ~10 s, then closed; others served meanwhile" {
	start_aggd
	baseline
	"$ABUSE" slowhead "127.0.0.1:$AGGD_PORT" >"$TMP/head" &
	h=$!
	"$ABUSE" slowbody "127.0.0.1:$AGGD_PORT" >"$TMP/body" &
	b=$!
	run "$ABUSE" idle "127.0.0.1:$AGGD_PORT" 0 13
	wait $h
	wait $b
	normal_ok "$output"
	echo "slow header: $(cat "$TMP/head")"
	echo "slow body: $(cat "$TMP/body")"
	for f in head body; do
		read -r st secs closed <"$TMP/$f"
		[ "$st" = status=408 ]
		[ "$closed" = closed=1 ]
		secs=${secs#seconds=}
		awk -v s="$secs" 'BEGIN { exit !(s >= 9.5 && s <= 12.5) }'
	done
	rss_bounded
	served
	stop_aggd
}

@test "a 100 MB body: 413 at once with Content-Length, 413 past 16 MiB when chunked" {
	start_aggd
	# announced: answered before a byte of the body is sent
	run "$ABUSE" bigcl "127.0.0.1:$AGGD_PORT" 104857600
	echo "$output"
	[ "${output%% *}" = status=413 ]
	[[ "$output" == *" sent=0" ]]
	awk -v s="$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$output")" 'BEGIN { exit !(s < 1) }'
	# the same with curl, with and without Expect: 100-continue
	head -c 100M /dev/zero >"$TMP/big"
	for expect in 'Expect: 100-continue' 'Expect:'; do
		code=$(curl -s -o "$TMP/resp" -w '%{http_code} %{time_total}' -H "$expect" \
		    -H 'Content-Type: application/json' --data-binary @"$TMP/big" "$AGGD_URL/publish")
		echo "curl ($expect): $code $(cat "$TMP/resp")"
		[ "${code% *}" = 413 ]
		[ "$(jq -r .error "$TMP/resp")" = "request body too large" ]
	done
	rm "$TMP/big"
	# chunked: refused once past 16 MiB, long before 100 MiB
	run "$ABUSE" chunked "127.0.0.1:$AGGD_PORT" 100
	echo "$output"
	[ "${output%% *}" = status=413 ]
	sent=$(sed 's/.*sent=//' <<<"$output")
	[ "$sent" -gt $((16 << 20)) ]
	[ "$sent" -lt $((40 << 20)) ]
	# a chunk that announces 256 MiB: refused at its size line
	out=$(raw_http 'POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000\r\nxx')
	echo "$out"
	[ "$(head -n 1 <<<"$out")" = "HTTP/1.1 413 Content Too Large" ]
	# nothing of it counted
	[ "$(curl -s "$AGGD_URL/stats" | jq .received)" = 0 ]
	rss_bounded
	served
	stop_aggd
}

@test "a chunked 100 MB body from curl: the client sees the 413 (lingering close)" {
	start_aggd
	# Closing right after the 413, with the client still sending, would
	# make the kernel reset the connection over the unread input, and
	# curl (which got "100 Continue") would see "send failure" instead of
	# the 413 about half the time: aggd shuts its side and drains first.
	codes=
	for i in $(seq 10); do
		codes+=$(head -c 100M /dev/zero | curl -s -o /dev/null -w '%{http_code}' -T - -X POST \
		    -H 'Content-Type: application/json' "$AGGD_URL/publish" || true)" "
	done
	echo "curl, chunked, 10 times: $codes"
	[ "$codes" = "413 413 413 413 413 413 413 413 413 413 " ]
	[ "$(curl -s "$AGGD_URL/stats" | jq .received)" = 0 ]
	rss_bounded
	served
	stop_aggd
}

@test "a slow but steady body (40 KB/s for 12 s) is read to its end, not timed out" {
	start_aggd
	run "$ABUSE" steadybody "127.0.0.1:$AGGD_PORT" 480
	echo "$output"
	[ "${output%% *}" = status=200 ]
	[ "$(curl -s "$AGGD_URL/stats" | jq .unique_processed)" = 1 ]
	stop_aggd
}

@test "40 connections announcing 16 MB bodies and sending none: others still served" {
	start_aggd
	run "$ABUSE" headeronly "127.0.0.1:$AGGD_PORT" 40 16000000
	echo "$output"
	[ "$output" = status=200 ]
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_http_buffered_bytes" {print $2}')" -lt $((4 << 20)) ]
	rss_bounded
	served
	stop_aggd
}

@test "40 bodies of 16 MB at once: parsed off the loop, within the memory budget; others served with p99 < 50 ms" {
	[ "${AGG_VALGRIND:-}" = 1 ] && skip "640 MB of JSON is hours under valgrind"
	# 16 MB of numbers in one event whose topic breaks a rule: all of it
	# is read and parsed, then refused (422), so nothing is committed
	{
		printf '{"payload":{"n":['
		yes 1, | tr -d '\n' | head -c 16000000
		printf '1]},"event_id":"x","timestamp":"2025-10-21T10:00:00Z","source":"s","topic":""}'
	} >"$TMP/big.json"
	if [ -n "$SANITIZED" ]; then
		# Under ASan every fresh page of the 640 MB (a page fault, its
		# shadow, a realloc that always copies) costs several times
		# more: rounds of the loop take 20-700 ms on a 2-core VM.  The
		# latency bound is the optimised build's; here the normal
		# client must be answered, every time.
		P99_MAX_MS= NORMAL_MIN_REQUESTS=1
	fi
	start_aggd
	baseline
	"$ABUSE" idle "127.0.0.1:$AGGD_PORT" 0 8 >"$TMP/normal" &
	normal=$!
	pids=()
	for i in $(seq 40); do
		curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
		    --data-binary @"$TMP/big.json" "$AGGD_URL/publish" >"$TMP/code.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	wait "$normal"
	normal_ok "$(cat "$TMP/normal")"
	cat "$TMP"/code.* | sort | uniq -c
	# each refused by the rules, or 503 while the budget is spent
	[ "$(cat "$TMP"/code.* | grep -cvE '^(422|503)$')" = 0 ]
	[ "$(cat "$TMP"/code.* | grep -c '^422$')" -ge 1 ]
	if [ "$RSS_MAX_KB" -lt $((1024 * 1024)) ]; then
		# the budget (512 MiB) covers the bodies and their parsed copies
		RSS_MAX_KB=$(((512 + 96) * 1024))
	fi
	rss_bounded
	served
	stop_aggd
}

@test "long polls whose clients went free their slots at once: 300 gone, the next clients are served" {
	start_aggd --max-conns 300
	for i in $(seq 300); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
		printf 'GET /events?topic=lp%d&wait=30 HTTP/1.1\r\nHost: t\r\n\r\n' "$i" >&$fd
		exec {fd}>&-		# gone: a FIN right after the request
	done
	SECONDS=0
	wait_metric agg_http_long_polls "<=" 0
	wait_metric agg_http_connections_open "<=" 1
	echo "slots free after $SECONDS s"
	[ "$SECONDS" -lt 5 ]		# not when wait=30 ends
	served
}

@test "5000 long polls parked on other topics do not slow commits: a normal client keeps half its rate or more" {
	ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 5100 ] || skip "RLIMIT_NOFILE hard limit below 5100"
	start_aggd
	run "$ABUSE" idle "127.0.0.1:$AGGD_PORT" 0 3
	BASE_P99_MS=$(sed -n 's/.* p99_ms=\([0-9.]*\) .*/\1/p' <<<"$output")
	normal_ok "$output"
	alone=$(sed -n 's/.* requests=\([0-9]*\) .*/\1/p' <<<"$output")
	fds=()
	for i in $(seq 5000); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
		printf 'GET /events?topic=other%d&wait=60 HTTP/1.1\r\nHost: t\r\n\r\n' "$i" >&$fd
		fds+=("$fd")
	done
	wait_metric agg_http_long_polls ">=" 5000
	run "$ABUSE" idle "127.0.0.1:$AGGD_PORT" 0 3
	echo "normal client alone: $alone requests; beside 5000 parked polls: $output"
	parked=$(sed -n 's/.* requests=\([0-9]*\) .*/\1/p' <<<"$output")
	[ "$((parked * 2))" -ge "$alone" ]
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_http_long_polls" {print $2}')" -ge 5000 ]
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	stop_aggd
}

@test "requests pipelined before a FIN are all answered, whatever the read boundaries" {
	start_aggd
	for bytes in 16383 16384 32768; do
		run "$ABUSE" halfclose "127.0.0.1:$AGGD_PORT" "$bytes"
		echo "$bytes bytes: $output"
		[ "$output" = answered=100 ]
	done
	stop_aggd
}

@test "past --max-conns: a whole 503 that curl reads to its end" {
	start_aggd --max-conns 1
	exec {sock}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
	printf 'GET /heal' >&"$sock"	# holds the only connection, and not idle
	read_by_aggd
	run curl -s -o "$TMP/resp" -w '%{http_code}' "$AGGD_URL/healthz"
	echo "curl $status: $output $(cat "$TMP/resp")"
	[ "$status" = 0 ]
	[ "$output" = 503 ]
	[ "$(jq -r .error "$TMP/resp")" = "too many connections" ]
	exec {sock}>&-
	stop_aggd
}

@test "past --max-conns: a lingering or idle connection makes room, a lone CR stays idle" {
	start_aggd --max-conns 2
	# two clients that asked to close, read their replies and keep their
	# sockets open: aggd lingers on both, and a third is still served
	for i in 1 2; do
		exec {s}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
		printf 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >&"$s"
		read -r -t 5 line <&"$s"
		[ "$line" = $'HTTP/1.1 200 OK\r' ]
	done
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$AGGD_URL/healthz")" = 200 ]
	stop_aggd
	start_aggd --max-conns 1
	# a CR whose LF has not come yet is an empty line's start: still idle
	exec {s}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
	printf '\r' >&"$s"
	read_by_aggd
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$AGGD_URL/healthz")" = 200 ]
	stop_aggd
}

@test "a flood of empty lines: 431 past the header limit, its buffer given back" {
	start_aggd
	exec {s}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
	head -c 1048576 /dev/zero | tr '\0' '\n' >&"$s" || true
	read -r -t 5 line <&"$s"
	[ "$line" = $'HTTP/1.1 431 Request Header Fields Too Large\r' ]
	exec {s}>&-
	wait_metric agg_http_buffered_bytes "<=" 65535
	stop_aggd
}

@test "a 1 MB header line and 100 header fields: 431" {
	start_aggd
	run "$ABUSE" bighdr "127.0.0.1:$AGGD_PORT" 1048576
	echo "$output"
	[ "${output%% *}" = status=431 ]
	args=()
	for i in $(seq 1 100); do args+=(-H "X-F$i: v"); done
	run get "${args[@]}" "$AGGD_URL/healthz"
	[ "$(last_code)" = 431 ]
	rss_bounded
	served
	stop_aggd
}

# post_file FILE: POSTs FILE as JSON; prints "CODE BODY"
post_file() {
	local code
	code=$(curl -s -o "$TMP/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary @"$1" "$AGGD_URL/publish")
	printf '%s %s\n' "$code" "$(cat "$TMP/resp")"
}

# raw_event TOPIC ID PAYLOAD: an event with its members inserted verbatim
raw_event() {
	printf '{"topic":"%s","event_id":"%s","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":%s}' "$1" "$2" "$3"
}

@test "hostile JSON: each its precise status; nothing of a refused request counted" {
	start_aggd
	v422() {	# the 422 detail as "field: msg"
		jq -r '.detail[] | "\(.field): \(.msg)"' <<<"${1#* }"
	}
	# invalid UTF-8 in a topic
	printf '{"topic":"a\xff\xfeb","event_id":"x","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{}}' >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 400 ]
	[ "$(jq -r .error <<<"${output#* }")" = "invalid UTF-8 at byte 11" ]
	# nested 100,000 deep: the whole body, and inside a payload
	awk 'BEGIN { for (i = 0; i < 100000; i++) printf "["; for (i = 0; i < 100000; i++) printf "]" }' >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 400 ]
	[ "$(jq -r .error <<<"${output#* }")" = "nesting deeper than 64 levels at byte 64" ]
	raw_event t deep "$(awk 'BEGIN { for (i = 0; i < 100000; i++) printf "{\"a\":"; printf "1"; for (i = 0; i < 100000; i++) printf "}" }')" >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 400 ]
	[[ "$(jq -r .error <<<"${output#* }")" == "nesting deeper than 64 levels at byte "* ]]
	# 10,000 digits: an integer overflows a double; a fraction rounds
	raw_event t n1 "{\"n\":$(head -c 10000 /dev/zero | tr '\0' 9)}" >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 422 ]
	[ "$(v422 "$output")" = "payload: number out of range" ]
	raw_event t n2 "{\"n\":-$(head -c 10000 /dev/zero | tr '\0' 9).5e-9000}" >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 422 ]
	[ "$(v422 "$output")" = "payload: number out of range" ]
	raw_event t n3 "{\"n\":0.$(head -c 10000 /dev/zero | tr '\0' 9)}" >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 200 ]
	# duplicate members of the event object
	run publish '{"topic":"t","event_id":"d1","event_id":"d2","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{}}'
	[ "$(last_code)" = 422 ]
	[ "$(v422 "422 $output")" = "event_id: duplicate member" ]
	run publish '{"topic":"t","topic":"t","event_id":"d3","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{},"payload":{}}'
	[ "$(last_code)" = 422 ]
	[ "$(v422 "422 $output")" = "topic: duplicate member
payload: duplicate member" ]
	# NUL in a topic: raw (not JSON) and escaped (JSON, breaks the rule)
	printf '{"topic":"a\0b","event_id":"x","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{}}' >"$TMP/in"
	run post_file "$TMP/in"
	[ "${output%% *}" = 400 ]
	[ "$(jq -r .error <<<"${output#* }")" = "invalid JSON at byte 11: control character in string" ]
	run publish "$(raw_event 'a\u0000b' x '{}')"
	[ "$(last_code)" = 422 ]
	[ "$(v422 "422 $output")" = "topic: contains a control character" ]
	# event_id of 256 bytes, then 255 (and 255 bytes of 3-byte UTF-8 + 0)
	id256=$(head -c 256 /dev/zero | tr '\0' i)
	run publish "$(event t "$id256")"
	[ "$(last_code)" = 422 ]
	[ "$(v422 "422 $output")" = "event_id: longer than 255 bytes" ]
	run publish "$(event t "${id256:1}")"
	[ "$(last_code)" = 200 ]
	run publish "$(event t "$(printf '€%.0s' $(seq 85))")"	# 255 bytes
	[ "$(last_code)" = 200 ]
	run publish "$(event t "$(printf '€%.0s' $(seq 85))x")"	# 256 bytes
	[ "$(last_code)" = 422 ]
	# one refused event refuses its whole request
	run publish "[$(event t good1),$(event t "$id256"),$(event t good2)]"
	[ "$(last_code)" = 422 ]
	[ "$(jq -c '[.detail[].index]' <<<"$output")" = '[1]' ]
	# only the three accepted requests count
	[ "$(curl -s "$AGGD_URL/stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]')" = '[3,3,0]' ]
	[ "$(curl -s "$AGGD_URL/events?topic=t" | jq -c '[.events[].event_id | length]')" = '[2,255,85]' ]
	# the 10,000-digit fraction came back as the nearest double
	[ "$(curl -s "$AGGD_URL/events?topic=t&limit=1" | jq -c .events[0].payload)" = '{"n":1}' ]
	rss_bounded
	served
	stop_aggd
}
