#!/usr/bin/env bats
# aggstat: /stats as key value lines, JSON or Prometheus text; -o files.

load helper

# Three events in "orders" (one a duplicate) and one in a topic whose name
# needs escaping in JSON and in Prometheus label values.
seed() {
	publish "[$(event orders a),$(event orders b),$(event orders a),$(event 'we\"ird\\ one' x)]" >/dev/null
	[ "$(last_code)" = 200 ]
}

# A port nothing listens on: one aggd had it a moment ago.
dead_port() {
	start_aggd
	DEAD=$AGGD_PORT
	stop_aggd
}

@test "aggstat: --help lists every option, -V prints the version" {
	run aggstat --help
	[ "$status" -eq 0 ]
	for f in -j --json -p --prometheus -o --output -t --topic -w --watch \
	    -u --url -k --token -h --help -V --version; do
		[[ "$output" == *"$f"* ]] || { echo "missing $f"; false; }
	done
	run aggstat -h
	[ "$status" -eq 0 ]
	run aggstat -V
	[ "$status" -eq 0 ]
	[ "$output" = "aggstat 1.2.0" ]
	run aggstat --version
	[ "$output" = "aggstat 1.2.0" ]
}

@test "aggstat: bad usage: one line, exit 2" {
	run "$AGG_BIN/aggstat" -x
	[ "$status" -eq 2 ]
	[ "$output" = "aggstat: unknown option -x; try 'aggstat --help'" ]
	for args in extra "-t ''" -o "-w 0" "-w x" "-w 2 -o f"; do
		eval "run aggstat $args"
		echo "$args: $output"
		[ "$status" -eq 2 ]
		[ "${#lines[@]}" = 1 ]
		[[ $output == *"; try 'aggstat --help'" ]]
	done
}

@test "aggstat: key value lines by default" {
	start_aggd
	seed
	run aggstat
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "received 4" ]
	[ "${lines[1]}" = "unique_processed 3" ]
	[ "${lines[2]}" = "duplicate_dropped 1" ]
	[[ "${lines[3]}" =~ ^events_per_second\ [0-9]+\.[0-9]{2}$ ]]
	[[ "${lines[4]}" =~ ^last_event_at\ 20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}Z$ ]]
	[ "${lines[5]}" = "topics 2" ]
	[[ "${lines[6]}" =~ ^uptime_seconds\ [0-9]+$ ]]
	[[ "$output" == *$'\ntopic.orders.received 3\ntopic.orders.unique_processed 2\ntopic.orders.duplicate_dropped 1\ntopic.orders.events_per_second '* ]]
	[[ "$output" == *$'\ntopic.we"ird\\ one.unique_processed 1'* ]]
	# awk: the value is always the last field
	[ "$(aggstat | awk '$1 == "unique_processed" { print $NF }')" = 3 ]
	[ "$(aggstat | awk '/^topic\..*(received|unique_processed|duplicate_dropped) / { s += $NF } END { print s }')" = 8 ]
	# the last minute's rate: 4 events received in it
	[ "$(aggstat -j | jq '.events_per_second * 60 | round')" = 4 ]
}

@test "aggstat: an empty store" {
	start_aggd
	run aggstat
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "received 0" ]
	[ "${lines[3]}" = "events_per_second 0.00" ]
	[ "${lines[4]}" = "last_event_at none" ]
	[ "${lines[5]}" = "topics 0" ]
	[ "${#lines[@]}" -eq 7 ]
}

@test "aggstat: -j prints the JSON as served" {
	start_aggd
	seed
	run aggstat -j
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	echo "$output" | jq -e '.received == 4 and .unique_processed == 3 and
	    .duplicate_dropped == 1 and (.topics | length) == 2 and
	    .by_topic.orders.duplicate_dropped == 1'
	# byte for byte what curl gets, but for the uptime
	diff <(aggstat --json | sed 's/"uptime_seconds":[0-9]*//') \
	    <(get "$AGGD_URL/stats" | sed 's/"uptime_seconds":[0-9]*//')
}

@test "aggstat: -t TOPIC prints one topic's figures" {
	start_aggd
	seed
	run aggstat -t orders
	[ "$status" -eq 0 ]
	[[ "$output" == $'received 3\nunique_processed 2\nduplicate_dropped 1\nevents_per_second '*$'\nlast_event_at 20'* ]]
	run aggstat --topic 'we"ird\ one' -j
	[ "$status" -eq 0 ]
	[[ "$output" == '{"topic":"we\"ird\\ one","received":1,"unique_processed":1,"duplicate_dropped":0,"events_per_second":'*',"last_event_at":"20'* ]]
	echo "$output" | jq -e '.topic == "we\"ird\\ one"'
}

@test "aggstat: -t with an unknown topic exits 1" {
	start_aggd
	seed
	run aggstat -t nope
	[ "$status" -eq 1 ]
	[ "$output" = "aggstat: nope: no such topic" ]
	run aggstat -p -t nope -o "$TMP/x.prom"
	[ "$status" -eq 1 ]
	[ ! -e "$TMP/x.prom" ]
}

# Every line a comment (HELP/TYPE) or "name{labels} value".
check_prom() {
	local name='[a-zA-Z_:][a-zA-Z0-9_:]*'
	local label='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\["\\n])*"'
	grep -Evx "# (HELP|TYPE) $name .+|$name(\{$label(,$label)*\})? [0-9]+" "$1" && return 1
	# a TYPE line before each family's samples
	awk '/^# TYPE/ { t[$3] = 1; next } /^#/ { next }
	    { n = $1; sub(/\{.*/, "", n); if (!(n in t)) exit 1 }' "$1"
}

@test "aggstat: -p prints Prometheus text exposition" {
	start_aggd
	seed
	aggstat -p >"$TMP/out"
	cat "$TMP/out"
	check_prom "$TMP/out"
	grep -qx 'agg_events_received_total 4' "$TMP/out"
	grep -qx 'agg_events_unique_total 3' "$TMP/out"
	grep -qx 'agg_events_duplicate_total 1' "$TMP/out"
	grep -qx 'agg_topics 2' "$TMP/out"
	grep -qx '# TYPE agg_events_received_total counter' "$TMP/out"
	grep -Eqx 'agg_uptime_seconds [0-9]+' "$TMP/out"
	grep -qx 'agg_topic_events_received_total{topic="orders"} 3' "$TMP/out"
	grep -qx 'agg_topic_events_duplicate_total{topic="orders"} 1' "$TMP/out"
	# label values escape \ and "
	grep -qxF 'agg_topic_events_unique_total{topic="we\"ird\\ one"} 1' "$TMP/out"
	# the totals agree with aggd's own /metrics, and so do the words
	get "$AGGD_URL/metrics" | grep -qx 'agg_events_received_total 4'
	for m in agg_events_received_total agg_events_unique_total \
	    agg_events_duplicate_total agg_last_event_timestamp_seconds; do
		[ "$(grep "^# HELP $m " "$TMP/out")" = "$(get "$AGGD_URL/metrics" | grep "^# HELP $m ")" ]
	done
}

@test "aggstat: -p -t TOPIC prints only that topic's series" {
	start_aggd
	seed
	aggstat --prometheus -t orders >"$TMP/out"
	check_prom "$TMP/out"
	[ "$(grep -vc '^#' "$TMP/out")" -eq 4 ]
	grep -Eqx 'agg_topic_last_event_timestamp_seconds\{topic="orders"\} [0-9]{10}' "$TMP/out"
	grep -qx 'agg_topic_events_unique_total{topic="orders"} 2' "$TMP/out"
	! grep -q 'agg_events_received_total' "$TMP/out"
}

@test "aggstat: -o writes the file atomically and quietly" {
	start_aggd
	seed
	mkdir "$TMP/tf"
	echo old >"$TMP/tf/agg.prom"
	run aggstat -p -o "$TMP/tf/agg.prom"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	check_prom "$TMP/tf/agg.prom"
	grep -qx 'agg_events_received_total 4' "$TMP/tf/agg.prom"
	# nothing else left in the folder, and readable by a collector
	[ "$(ls -A "$TMP/tf")" = agg.prom ]
	(umask 022 && aggstat -o "$TMP/tf/agg.prom")
	[ "$(stat -c %a "$TMP/tf/agg.prom")" = 644 ]
	diff <(grep -v uptime "$TMP/tf/agg.prom") <(aggstat | grep -v uptime)
	# --output, relative name, JSON
	(cd "$TMP/tf" && aggstat -j --output stats.json)
	jq -e '.received == 4' "$TMP/tf/stats.json"
	[ "$(ls -A "$TMP/tf" | wc -l)" -eq 2 ]
}

@test "aggstat: -o keeps the old file when aggd is unreachable" {
	dead_port
	echo old >"$TMP/agg.prom"
	run aggstat -p -o "$TMP/agg.prom" -u "http://127.0.0.1:$DEAD"
	[ "$status" -eq 1 ]
	[ "$(cat "$TMP/agg.prom")" = old ]
	[ "$(ls -A "$TMP" | grep -c agg.prom)" -eq 1 ]
	run aggstat -o "$TMP/no/such/dir/agg.prom" -u "http://127.0.0.1:$DEAD"
	[ "$status" -eq 1 ]
}

@test "aggstat: -o into a missing folder exits 1" {
	start_aggd
	run aggstat -o "$TMP/no/such/dir/agg.prom"
	[ "$status" -eq 1 ]
	[ "$output" = "aggstat: $TMP/no/such/dir/agg.prom: No such file or directory" ]
}

@test "aggstat: unreachable aggd: one line, exit 1" {
	dead_port
	run aggstat -u "http://127.0.0.1:$DEAD/publish"
	[ "$status" -eq 1 ]
	[ "$output" = "aggstat: GET http://127.0.0.1:$DEAD/stats: connection refused" ]
	AGGREGATOR_URL=http://127.0.0.1:$DEAD/publish run aggstat -p
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "aggstat: an error answer exits 1 with aggd's words" {
	start_aggd
	run aggstat -u "$AGGD_URL/nothing/here"
	[ "$status" -eq 1 ]
	[[ "$output" == "aggstat: GET $AGGD_URL/nothing/here/stats: 404 "* ]]
}

@test "aggstat: a /stats answer with trailing bytes is refused; an error is one line" {
	body='{"received":1,"unique_processed":1,"duplicate_dropped":0,"topics":[],"uptime_seconds":1}x'
	fake_aggd "HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: ${#body}\\r\\n\\r\\n$body"
	run aggstat -u "$FAKE_URL"
	[ "$status" -eq 1 ]
	[ "$output" = "aggstat: /stats: the answer is not a JSON object" ]
	stop_fake
	body='{"error":"two\\nlines"}'	# printf leaves the JSON escape \n
	fake_aggd "HTTP/1.1 500 Internal Server Error\\r\\nContent-Length: $(printf "$body" | wc -c)\\r\\n\\r\\n$body"
	run aggstat -u "$FAKE_URL"
	[ "$status" -eq 1 ]
	[ "$output" = "aggstat: GET $FAKE_URL/stats: 500 two lines" ]
	stop_fake
}

@test "aggstat: -u and AGGREGATOR_URL, with or without /publish" {
	start_aggd
	seed
	AGGREGATOR_URL=http://127.0.0.1:1/publish run aggstat -u "$AGGD_URL"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "received 4" ]
	AGGREGATOR_URL=$AGGD_URL/ run aggstat
	[ "${lines[0]}" = "received 4" ]
	AGGREGATOR_URL=$AGGD_URL/publish run aggstat --url "$AGGD_URL/publish/"
	[ "${lines[0]}" = "received 4" ]
}

@test "aggstat: 401 without the token, fine with AGG_TOKEN, -T or --token" {
	start_aggd -k s3cret
	run aggstat
	[ "$status" -eq 1 ]
	[[ "$output" == "aggstat: GET $AGGD_URL/stats: 401 "* ]]
	[ "${#lines[@]}" -eq 1 ]
	AGG_TOKEN=wrong run aggstat
	[ "$status" -eq 1 ]
	AGG_TOKEN=s3cret run aggstat
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "received 0" ]
	run aggstat -k s3cret
	[ "$status" -eq 0 ]
	AGG_TOKEN=wrong run aggstat --token s3cret -p
	[ "$status" -eq 0 ]
	[[ "$output" == *"agg_events_received_total 0"* ]]
}

@test "aggstat -w: the figures anew, in place, every N seconds" {
	start_aggd
	seed
	script -qfec "timeout 3 aggstat -w 1 -u $AGGD_URL" "$TMP/tty" >/dev/null || true
	# each round clears the screen and shows the lines
	[ "$(grep -ac $'\033\\[H\033\\[2J' "$TMP/tty")" -ge 2 ]
	grep -aq '^received 4' "$TMP/tty"
	grep -aq 'every 1 s: aggstat 20' "$TMP/tty"
}

@test "aggstat takes aggd's base URL or any of its paths" {
	start_aggd
	seed
	for u in "$AGGD_URL" "$AGGD_URL/" "$AGGD_URL/publish" "$AGGD_URL/stats" \
	    "$AGGD_URL/events"; do
		[ "$(aggstat -j -u "$u" | jq .received)" = 4 ] || { echo "$u"; false; }
	done
}

@test "aggstat: -T, the letter of 1.1 for the token, still works with a warning" {
	start_aggd -k s
	run aggstat -T s
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "aggstat: -T is -k (--token) now; -T goes away in agg 2.0" ]
	[ "${lines[1]}" = "received 0" ]
}
