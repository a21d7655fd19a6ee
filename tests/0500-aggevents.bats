#!/usr/bin/env bats
# aggevents: NDJSON of /events in seq order, paging, -f follow, -H table.

load helper

# helper.bash's teardown, run after stopping a follower we started.
eval "helper_$(declare -f teardown)"
teardown() {
	local p
	for p in "${FOLLOW_PID:-}" "${FIRST_PID:-}"; do
		[ -n "$p" ] || continue
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	helper_teardown
}

# publish_range TOPIC FROM TO [CURLARGS]: events TOPIC/FROM..TO, one request
publish_range() {
	awk -v t="$1" -v a="$2" -v b="$3" 'BEGIN { printf "["
	    for (i = a; i <= b; i++)
		printf "%s{\"topic\":\"%s\",\"event_id\":\"%d\",\"timestamp\":" \
		    "\"2025-10-21T10:00:00Z\",\"source\":\"test\"," \
		    "\"payload\":{\"n\":%d}}", (i > a ? "," : ""), t, i, i
	    printf "]" }' >"$TMP/range.json"
	publish @"$TMP/range.json" "${@:4}" >/dev/null
	[ "$(last_code)" = 200 ]
}

# through_aggpub: copies the running aggd's events into a second one with
# `aggevents | aggpub -`, checks both print the same ($TMP/a, $TMP/b) and
# stops the first
through_aggpub() {
	local first=$AGGD_URL
	aggevents >"$TMP/a"
	FIRST_PID=$AGGD_PID
	AGGD_DB=$TMP/second/dedup.db
	start_aggd			# the second; the first keeps running
	aggevents -u "$first" | aggpub -q -
	aggevents >"$TMP/b"
	cmp <(unstamped "$TMP/a") <(unstamped "$TMP/b")
	kill -TERM "$FIRST_PID"
	wait "$FIRST_PID"
	FIRST_PID=
}

# unstamped FILE: its lines without received_at, which each store sets
unstamped() {
	sed 's/,"received_at":\("[^"]*"\|null\)}$/}/' "$@"
}

# wait_lines FILE N: until FILE has at least N lines (60 s at most)
wait_lines() {
	local i
	for i in $(seq 1 1200); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "$1 has $(wc -l <"$1") lines, want $2" >&2
	return 1
}

# wait_retrying: until the follower has said it retries
wait_retrying() {
	local i
	for i in $(seq 1 1200); do
		grep -q retrying "$TMP/follow.err" && return 0
		sleep 0.05
	done
	return 1
}

# follow [ARGS]: aggevents -f in the background into $TMP/follow
follow() {
	aggevents -f "$@" >"$TMP/follow" 2>"$TMP/follow.err" 3>&- &
	FOLLOW_PID=$!
}

# stop_follow: SIGTERM; fails unless it exits 0 within 5 s
stop_follow() {
	local rc=0
	kill -TERM "$FOLLOW_PID"
	wait "$FOLLOW_PID" || rc=$?
	FOLLOW_PID=
	[ "$rc" -eq 0 ] || { echo "aggevents exited $rc" >&2; cat "$TMP/follow.err" >&2; }
	return "$rc"
}

seqs() {
	jq -r .seq "$@"
}

# A port nothing listens on: one aggd had it a moment ago.
dead_port() {
	start_aggd
	DEAD=$AGGD_PORT
	stop_aggd
}

@test "aggevents: --help lists every option, -V prints the version" {
	run aggevents --help
	[ "$status" -eq 0 ]
	for f in -t --topic -i --id -a --after --since --until -n --count \
	    -b --batch -f --follow -H --human -u --url -k --token -h --help \
	    -V --version; do
		[[ "$output" == *"$f"* ]] || { echo "missing $f"; false; }
	done
	run aggevents -h
	[ "$status" -eq 0 ]
	run aggevents -V
	[ "$output" = "aggevents 1.2.0" ]
	run aggevents --version
	[ "$output" = "aggevents 1.2.0" ]
}

@test "aggevents: bad usage: one line, exit 2" {
	for args in "-x" "extra" "-b 0" "-b 10001" "-b x" "-n -1" "-n 3x" \
	    "-a -5" "-a" "--after=" "-t ''" "-i x" "-t t -i ''" "-t t -i x -f" \
	    "-t t -i x -n 1" "--since yesterday" "--until 2025-13-01T00:00:00Z" \
	    "-f --until 2025-10-21T10:00:00Z" "-a 1 --since 2025-10-21T10:00:00Z"; do
		eval "run aggevents $args"
		echo "$args: $status $output"
		[ "$status" -eq 2 ]
		[ "${#lines[@]}" = 1 ]
		[[ $output == "aggevents: "*"; try 'aggevents --help'" ]]
	done
	run "$AGG_BIN/aggevents" -x
	[ "$output" = "aggevents: unknown option -x; try 'aggevents --help'" ]
}

@test "aggevents: an empty store prints nothing" {
	start_aggd
	run aggevents
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "aggevents: NDJSON, one event a line, in seq order, no duplicates" {
	start_aggd
	publish_range orders 1 3
	publish_range audit 1 2
	publish_range orders 2 4	# 2 and 3 are duplicates
	run aggevents
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[0]}" =~ ^'{"topic":"orders","event_id":"1","timestamp":"2025-10-21T10:00:00Z","source":"test","payload":{"n":1},"seq":1,"received_at":"'20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'"}'$ ]]
	[ "$(aggevents | seqs | tr '\n' ' ')" = "1 2 3 4 5 6 " ]
	[ "$(aggevents | jq -r '.topic + "/" + .event_id' | tr '\n' ' ')" = \
	    "orders/1 orders/2 orders/3 audit/1 audit/2 orders/4 " ]
	# as many as /stats counts unique
	[ "$(aggevents | wc -l)" -eq "$(aggstat | awk '$1 == "unique_processed" { print $2 }')" ]
}

@test "aggevents: -t, -n, -a and -b" {
	start_aggd
	publish_range orders 1 5
	publish_range audit 1 5
	publish_range orders 6 10
	[ "$(aggevents -t orders | jq -r .event_id | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 10 " ]
	[ "$(aggevents --topic audit | wc -l)" -eq 5 ]
	[ "$(aggevents -t nope | wc -l)" -eq 0 ]
	# -n alone: the newest, like tail -n; after -a: the first after it
	[ "$(aggevents -n 3 | seqs | tr '\n' ' ')" = "13 14 15 " ]
	[ "$(aggevents -n 30 | wc -l)" -eq 15 ]
	[ "$(aggevents -a 0 -n 3 | seqs | tr '\n' ' ')" = "1 2 3 " ]
	[ "$(aggevents --count 0 | wc -l)" -eq 0 ]
	[ "$(aggevents -a 12 | seqs | tr '\n' ' ')" = "13 14 15 " ]
	[ "$(aggevents --after 15 | wc -l)" -eq 0 ]
	[ "$(aggevents -t orders -a 3 -n 4 | seqs | tr '\n' ' ')" = "4 5 11 12 " ]
	# pages of 1, 2 and 3 give the same stream as one page
	aggevents >"$TMP/all"
	for l in 1 2 3 15 10000; do
		aggevents -b "$l" | cmp - "$TMP/all"
	done
	[ "$(aggevents --batch 2 -n 5 -t orders | seqs | tr '\n' ' ')" = "11 12 13 14 15 " ]
	# -n larger than a page: found a page at a time from the end
	[ "$(aggevents -b 2 -n 7 -t orders | seqs | tr '\n' ' ')" = "4 5 11 12 13 14 15 " ]
	# --limit, and -l, the letter of 1.1, still work
	aggevents --limit 3 | cmp - "$TMP/all"
	run aggevents -l 3
	[ "${lines[0]}" = "aggevents: -l is -b (--batch) now; -l goes away in agg 2.0" ]
}

@test "aggevents: topic names are escaped in the query" {
	start_aggd
	publish "[$(event 'a&b c/é?' 1),$(event a 2)]" >/dev/null
	[ "$(aggevents -t 'a&b c/é?' | jq -r .event_id)" = 1 ]
	[ "$(aggevents -t a | jq -r .event_id)" = 2 ]
}

@test "aggevents: -H prints a table that fits 80 columns" {
	start_aggd
	publish "[$(event orders 1 '{"text":"'$(printf 'x%.0s' $(seq 1 200))'"}'),$(event a-very-long-topic-name e-2 '{"k":1}')]" >/dev/null
	run aggevents -H
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" =~ ^SEQ\ TIME\ +TOPIC\ +EVENT_ID\ +SOURCE\ +PAYLOAD$ ]]
	[[ "${lines[1]}" =~ ^\ +1\ 2025-10-21T10:00:00Z\ orders\ +1\ +test\ +\{\"text\":\"x ]]
	[[ "${lines[2]}" == *" a-very-long"*"e-2 "*'{"k":1}' ]]
	# at most 80 characters, payload cut with an ellipsis
	[ "$(aggevents --human | LC_ALL=C.UTF-8 wc -L)" -eq 80 ]
	[[ "${lines[1]}" == *"…" ]]
}

@test "aggevents: -H sizes its columns from the data and the terminal, never wider" {
	start_aggd
	publish "[$(event orders 1 '{"text":"'$(printf 'x%.0s' $(seq 1 200))'"}'),$(event a-very-long-topic-name-indeed e-2 '{"k":1}')]" >/dev/null
	publish "$(event t "$(printf 'i%.0s' $(seq 1 60))")" >/dev/null
	# timestamps of 24 characters and more fit whole on 80 columns
	publish "$(event t short '{}' | sed 's/10:00:00Z/10:00:00.123+02:00/')" >/dev/null
	for cols in 50 80 132; do
		script -qfec "stty cols $cols; aggevents -H -u $AGGD_URL" "$TMP/tty" >/dev/null
		tr -d '\r' <"$TMP/tty" | sed '/^$/d; /^Script /d' >"$TMP/table"
		cat "$TMP/table"
		[ "$(wc -l <"$TMP/table")" -eq 5 ]
		[ "$(LC_ALL=C.UTF-8 wc -L <"$TMP/table")" -le "$cols" ]
		# the time is cut only where nothing else is left to cut
		[ "$cols" -lt 80 ] || grep -q '2025-10-21T10:00:00.123+02:00 ' "$TMP/table"
	done
	# wide enough, nothing is cut
	script -qfec "stty cols 400; aggevents -H -u $AGGD_URL" "$TMP/tty" >/dev/null
	! grep -q '…' "$TMP/tty"
	grep -q 'a-very-long-topic-name-indeed' "$TMP/tty"
}

@test "aggevents: unreachable aggd: one line, exit 1" {
	dead_port
	run aggevents -u "http://127.0.0.1:$DEAD/publish"
	[ "$status" -eq 1 ]
	[ "$output" = "aggevents: GET http://127.0.0.1:$DEAD/events?after=0&limit=1000: connection refused" ]
	run aggevents -H -u "http://127.0.0.1:$DEAD"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "aggevents: a malformed URL ends even -f at once; a closed stdout is an error" {
	SECONDS=0
	run timeout 10 aggevents -f -u 'htp://127.0.0.1/publish'
	echo "$status: $output ($SECONDS s)"
	[ "$status" -eq 1 ]
	[ "$SECONDS" -lt 5 ]
	[[ $output != *retrying* ]]
	start_aggd
	run bash -c 'aggevents -n 3 >&-'
	[ "$status" -eq 1 ]
	[ "$output" = "aggevents: standard output: Bad file descriptor" ]
}

@test "aggevents: an error answer exits 1 with aggd's words" {
	start_aggd
	run aggevents -u "$AGGD_URL/nothing"
	[ "$status" -eq 1 ]
	[[ "$output" == "aggevents: GET $AGGD_URL/nothing/events?after=0&limit=1000: 404 "* ]]
	# -f does not retry errors that retrying cannot mend
	run timeout 10 aggevents -f -u "$AGGD_URL/nothing"
	[ "$status" -eq 1 ]
}

@test "aggevents: -u and AGGREGATOR_URL" {
	start_aggd
	publish_range orders 1 2
	AGGREGATOR_URL=http://127.0.0.1:1/publish run aggevents -u "$AGGD_URL"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	AGGREGATOR_URL=$AGGD_URL run aggevents --url "$AGGD_URL/publish"
	[ "${#lines[@]}" -eq 2 ]
}

@test "aggevents: 401 without the token, fine with AGG_TOKEN, -k or --token" {
	start_aggd -k s3cret
	publish_range orders 1 2 -H 'Authorization: Bearer s3cret'
	run aggevents
	[ "$status" -eq 1 ]
	[[ "$output" == "aggevents: GET $AGGD_URL/events?after=0&limit=1000: 401 "* ]]
	run timeout 10 aggevents -f
	[ "$status" -eq 1 ]
	AGG_TOKEN=s3cret run aggevents
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	run aggevents -k s3cret
	[ "${#lines[@]}" -eq 2 ]
	AGG_TOKEN=wrong run aggevents --token s3cret
	[ "${#lines[@]}" -eq 2 ]
}

@test "aggevents: -a 0 -f prints the backlog, then events published later" {
	start_aggd
	publish_range orders 1 3
	follow -a 0
	wait_lines "$TMP/follow" 3
	publish_range orders 4 4
	wait_lines "$TMP/follow" 4
	publish_range audit 1 5
	wait_lines "$TMP/follow" 9
	stop_follow
	[ "$(seqs "$TMP/follow" | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 " ]
	[ ! -s "$TMP/follow.err" ]
}

@test "aggevents: -f with -t, -a and -n" {
	start_aggd
	publish_range orders 1 3
	follow -t audit -a 4		# seq 4 is audit/1
	publish_range audit 1 2
	publish_range orders 4 4
	publish_range audit 3 3
	wait_lines "$TMP/follow" 2
	stop_follow
	[ "$(jq -r .event_id "$TMP/follow" | tr '\n' ' ')" = "2 3 " ]
}

@test "aggevents: -f alone starts at the end; -n N -f shows the last N, then follows" {
	start_aggd
	publish_range orders 1 5
	follow
	wait_metric agg_http_long_polls ">=" 1	# caught up: waits for news
	publish_range orders 6 7
	wait_lines "$TMP/follow" 2
	stop_follow
	[ "$(jq -r .event_id "$TMP/follow" | tr '\n' ' ')" = "6 7 " ]
	follow -n 2 -t orders
	wait_lines "$TMP/follow" 2
	publish_range orders 8 8
	wait_lines "$TMP/follow" 3
	stop_follow
	[ "$(jq -r .event_id "$TMP/follow" | tr '\n' ' ')" = "6 7 8 " ]
	# on an empty topic: everything that comes (once the last
	# follower's poll is gone, so that the one counted is this one's)
	wait_metric agg_http_long_polls "<=" 0
	follow -t later
	wait_metric agg_http_long_polls ">=" 1
	publish_range later 1 2
	wait_lines "$TMP/follow" 2
	stop_follow
	[ "$(jq -r .event_id "$TMP/follow" | tr '\n' ' ')" = "1 2 " ]
}

@test "aggevents -t T -i ID: the one event, or exit 1" {
	start_aggd
	publish_range orders 1 3
	publish_range audit 2 2
	run aggevents -t orders -i 2
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -c '[.topic,.event_id,.seq]' <<<"$output")" = '["orders","2",2]' ]
	run aggevents -t audit -i 2
	[ "$(jq -c '[.topic,.event_id,.seq]' <<<"$output")" = '["audit","2",4]' ]
	run aggevents -t orders -i 4
	[ "$status" -eq 1 ]
	[ "$output" = "aggevents: orders/4: not stored" ]
	run aggevents -t nope -i 1
	[ "$status" -eq 1 ]
	# the API the same: the event or an empty page
	[ "$(get "$AGGD_URL/events?topic=orders&event_id=3" | jq -c '[.count,.events[0].seq]')" = '[1,3]' ]
	[ "$(get "$AGGD_URL/events?topic=orders&event_id=9" | jq -c '[.count,.next]')" = '[0,null]' ]
	get "$AGGD_URL/events?event_id=3" >/dev/null
	[ "$(last_code)" = 400 ]
}

@test "aggevents --since and --until: events by the time they arrived" {
	start_aggd
	publish_range early 1 3
	t1=$(get "$AGGD_URL/events?limit=1&before=999999999" | jq -r '.events[0].received_at')
	# a later millisecond for the next commit
	until [ "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \> "$t1" ]; do sleep 0.01; done
	publish_range late 1 2
	t2=$(get "$AGGD_URL/events?topic=late&limit=1" | jq -r '.events[0].received_at')
	[ "$(aggevents --since "$t2" | jq -r .topic | sort -u)" = late ]
	[ "$(aggevents --until "$t2" | jq -r .topic | sort -u)" = early ]
	[ "$(aggevents --since "$t1" --until "$t2" | wc -l)" -eq 3 ]
	[ "$(aggevents --since 2000-01-01T00:00:00+02:00 | wc -l)" -eq 5 ]
	[ "$(aggevents --since 2999-01-01T00:00:00Z | wc -l)" -eq 0 ]
	[ "$(aggevents --since "$t1" -n 1 | jq -r .event_id)" = 1 ]	# the first since
	[ "$(aggevents --until "$t2" -n 1 | jq -r .event_id)" = 3 ]	# the newest until
	get "$AGGD_URL/events?since=yesterday" >/dev/null
	[ "$(last_code)" = 400 ]
}

@test "aggevents: -f exits 0 on SIGINT and when its reader goes" {
	start_aggd
	publish_range orders 1 5
	follow -a 0
	wait_lines "$TMP/follow" 5
	kill -INT "$FOLLOW_PID"
	wait "$FOLLOW_PID"
	FOLLOW_PID=
	# head exits after 2 lines; aggevents sees the closed pipe in its wait
	run timeout 10 bash -c 'set -o pipefail; aggevents -a 0 -f | head -n 2'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	# without -f a closed pipe is not an error either
	publish_range bulk 1 3000
	run bash -c 'set -o pipefail; aggevents -b 10 | head -n 1'
	[ "$status" -eq 0 ]
}

@test "aggevents: -f resumes across an aggd restart, no gaps or repeats" {
	start_aggd
	publish_range orders 1 50
	follow -a 0 -b 7
	wait_lines "$TMP/follow" 50
	local port=$AGGD_PORT
	stop_aggd
	wait_retrying			# it retries while aggd is down
	start_aggd -l "127.0.0.1:$port"
	[ "$AGGD_PORT" = "$port" ]
	publish_range orders 51 80
	wait_lines "$TMP/follow" 80
	kill9_aggd			# a crash this time
	start_aggd -l "127.0.0.1:$port"
	publish_range audit 1 20
	publish_range orders 81 100
	wait_lines "$TMP/follow" 120
	stop_follow
	[ "$(seqs "$TMP/follow" | tr '\n' ' ')" = "$(seq 1 120 | tr '\n' ' ')" ]
	grep -q 'connection refused; retrying' "$TMP/follow.err"
}

@test "aggevents: -f waits for aggd when it is down at the start" {
	dead_port
	follow -u "http://127.0.0.1:$DEAD"
	wait_retrying
	start_aggd -l "127.0.0.1:$DEAD"
	wait_metric agg_http_long_polls ">=" 1	# reached it: at the end, waits
	publish_range orders 1 3
	wait_lines "$TMP/follow" 3
	stop_follow
	[ "$(seqs "$TMP/follow" | tr '\n' ' ')" = "1 2 3 " ]
}

@test "aggevents: a 100k backlog, paged, every event once, in order" {
	awk 'BEGIN { for (i = 1; i <= 100000; i++)
	    printf "{\"topic\":\"t%d\",\"event_id\":\"e%d\",\"timestamp\":" \
	    "\"2025-10-21T10:00:00Z\",\"source\":\"gen\",\"payload\":{\"i\":%d}}\n",
	    i % 7, i, i }' >"$TMP/big.ndjson"
	[ -n "${AGG_PG:-}" ] || mkdir -p "$(dirname "$AGGD_DB")"
	aggd -x --relaxed -l 127.0.0.1:0 -d "$AGGD_DB" <"$TMP/big.ndjson" 2>/dev/null
	start_aggd
	aggevents >"$TMP/out"
	[ "$(wc -l <"$TMP/out")" -eq 100000 ]
	seqs "$TMP/out" | awk 'NR > 1 && $1 <= p { exit 1 } { p = $1 }'
	[ "$(jq -r .event_id "$TMP/out" | sort -u | wc -l)" -eq 100000 ]
	[ "$(aggevents -b 10000 | cmp - "$TMP/out" && echo same)" = same ]
	[ "$(aggevents -t t3 | wc -l)" -eq 14286 ]
	[ "$(aggevents -a 99990 | wc -l)" -eq 10 ]
}

# Payloads that a double-based round trip would change.
tricky_events() {
	event uni 1 '{"s":"héllo wörld ✓ 日本語 😀","esc":"tab\tnl\nquote\"back\\\\ ctl\u0001 \u2028","k😀":"v"}'
	echo
	event nest 2 '{"a":{"b":{"c":[1,[2,[3,{"d":null,"e":true,"f":false}]]]}},"empty":{},"ea":[]}'
	echo
	event num 3 '{"big":9223372036854775807,"neg":-9223372036854775808,"f":0.1,"e":1e300,"tiny":5e-324,"pi":3.141592653589793,"z":-0.5,"x":1.0,"huge":123456789012345678901234567890}'
	echo
	event 'tópic \"q\"' '✓ id\\x' "{\"deep\":$(printf '[%.0s' $(seq 40))1$(printf ']%.0s' $(seq 40))}"
	echo
}

@test "aggevents: unicode and nested payloads round-trip through aggd -x" {
	start_aggd
	tricky_events >"$TMP/in.ndjson"
	curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/in.ndjson" "$AGGD_URL/publish"
	[ "$(get "$AGGD_URL/stats" | jq .unique_processed)" -eq 4 ]
	aggevents >"$TMP/a"
	[ "$(wc -l <"$TMP/a")" -eq 4 ]
	# exact numbers survive
	grep -qF '"big":9223372036854775807,"neg":-9223372036854775808' "$TMP/a"
	# copy the store into a second one through a pipe
	aggevents | aggd -x -l 127.0.0.1:0 -d "$TMP/second/dedup.db" 2>/dev/null
	AGGD_DB=$TMP/second/dedup.db
	kill9_aggd
	start_aggd
	aggevents >"$TMP/b"
	cmp <(unstamped "$TMP/a") <(unstamped "$TMP/b")
	# what went in is what comes out, decoded the same by jq
	grep -qF '"s":"héllo wörld ✓ 日本語 😀"' "$TMP/b"
	grep -qF '"topic":"tópic \"q\"","event_id":"✓ id\\x"' "$TMP/b"
	grep -qF '"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]' "$TMP/b"
	diff <(jq -c '.payload' "$TMP/in.ndjson") <(jq -c '.payload' "$TMP/b")
	diff <(jq -c 'del(.seq)' "$TMP/in.ndjson") <(jq -c 'del(.seq, .received_at)' "$TMP/b")
}

@test "aggevents: an event as deep as aggd takes is printed, and so are those after it" {
	start_aggd
	# 64 levels in all: the event's object and 63 in its payload
	deep=$(printf '{"a":%.0s' $(seq 63))1$(printf '}%.0s' $(seq 63))
	publish "$(event d 1)" >/dev/null
	publish "$(event d 2 "$deep")" >/dev/null
	[ "$(last_code)" = 200 ]
	publish "$(event d 3 "{\"a\":$deep}")" >/dev/null
	[ "$(last_code)" = 400 ]
	publish "$(event d 4)" >/dev/null
	run aggevents
	[ "$status" = 0 ]
	[ "$(jq -r .event_id <<<"$output" | tr '\n' ' ')" = '1 2 4 ' ]
	[ "$(sed -n 2p <<<"$output" | jq -c .payload)" = "$deep" ]
	# and through aggpub - into a second store, which ships lines as they
	# are (NDJSON), not wrapped one level deeper
	through_aggpub
}

@test "aggevents: the same round trip through aggpub -" {
	[ -x "$AGG_BIN/aggpub" ] || skip "bin/aggpub is not built"
	start_aggd
	tricky_events >"$TMP/in.ndjson"
	publish_range orders 1 500
	curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/in.ndjson" "$AGGD_URL/publish"
	through_aggpub
	[ "$(wc -l <"$TMP/b")" -eq 504 ]
}
