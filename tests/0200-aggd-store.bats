#!/usr/bin/env bats
# The store: dedup across restarts, SIGTERM and SIGKILL, concurrency,
# standard input, and the operator's mistakes.

load helper

# batch FIRST LAST [TOPIC]: a JSON array of events with ids FIRST..LAST
batch() {
	local i out="["
	for i in $(seq "$1" "$2"); do out+="$(event "${3:-t}" "e$i"),"; done
	printf '%s]' "${out%,}"
}

counts() {
	curl -s "$AGGD_URL/stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]'
}

@test "dedup survives SIGTERM and restart; counters survive, uptime restarts" {
	start_aggd
	publish "$(batch 1 50)" >/dev/null
	[ "$(counts)" = '[50,50,0]' ]
	stop_aggd
	start_aggd
	[ "$(counts)" = '[50,50,0]' ]
	[ "$(curl -s "$AGGD_URL/stats" | jq .uptime_seconds)" -le 1 ]
	run publish "$(batch 40 60)"
	[ "$(jq -c . <<<"$output")" = '{"accepted":21,"unique":10,"duplicates":11}' ]
	[ "$(counts)" = '[71,60,11]' ]
	[ "$(curl -s "$AGGD_URL/stats" | jq -c .topics)" = '["t"]' ]
}

@test "SIGKILL right after acknowledgements loses nothing and counts nothing twice" {
	start_aggd
	for i in 0 1 2 3 4; do
		publish "$(batch $((i * 20 + 1)) $((i * 20 + 30)))" >/dev/null
		[ "$(last_code)" = 200 ]
	done
	kill9_aggd
	start_aggd
	[ "$(counts)" = '[150,110,40]' ]
	run get "$AGGD_URL/events?limit=10000"
	[ "$(jq '.count' <<<"$output")" = 110 ]
	[ "$(jq '[.events[].event_id] | unique | length' <<<"$output")" = 110 ]
	run publish "$(batch 1 110)"
	[ "$(jq -c . <<<"$output")" = '{"accepted":110,"unique":0,"duplicates":110}' ]
}

@test "relaxed (-r): answers without an fsync; kill -9 of the process loses nothing acknowledged" {
	start_aggd -r
	for i in 0 1 2; do
		publish "$(batch $((i * 20 + 1)) $((i * 20 + 30)))" >/dev/null
		[ "$(last_code)" = 200 ]
	done
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_commit_wal_syncs_total" {print $2}')" = 0 ]
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_commit_duration_seconds_count" {print $2}')" -ge 3 ]
	kill9_aggd
	start_aggd --relaxed
	[ "$(counts)" = '[90,70,20]' ]
	run get "$AGGD_URL/events?limit=1000"
	[ "$(jq '[.events[].event_id] | unique | length' <<<"$output")" = 70 ]
}

@test "SIGKILL during concurrent publishing: every acknowledged event is stored once" {
	start_aggd
	pids=
	for c in 1 2 3 4; do
		(
			for i in $(seq 1 200); do
				b=$(batch $((c * 100000 + i * 10)) $((c * 100000 + i * 10 + 14)) "k$c")
				code=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
				    --data-binary "$b" "$AGGD_URL/publish" || true)
				[ "$code" = 200 ] && echo "$((c * 100000 + i * 10)) $((c * 100000 + i * 10 + 14)) k$c"
			done >"$TMP/acked.$c"
			true
		) &
		pids+=" $!"
	done
	# killed while the publishers go on, once some answers came
	for i in $(seq 600); do
		[ "$(cat "$TMP"/acked.* 2>/dev/null | wc -l)" -ge 40 ] && break
		sleep 0.05
	done
	kill9_aggd
	wait $pids
	start_aggd
	cat "$TMP/acked".* >"$TMP/acked"
	[ -s "$TMP/acked" ]
	aggevents=$(curl -s "$AGGD_URL/events?limit=10000")
	while read -r first last topic; do
		for id in "e$first" "e$last"; do
			n=$(jq --arg id "$id" --arg t "$topic" '[.events[] | select(.event_id == $id and .topic == $t)] | length' <<<"$aggevents")
			[ "$n" = 1 ] || { echo "$topic/$id stored $n times"; false; }
		done
	done <"$TMP/acked"
	total=$(jq '.count' <<<"$aggevents")
	[ "$(jq '[.events[] | .topic + "/" + .event_id] | unique | length' <<<"$aggevents")" = "$total" ]
	stats=$(curl -s "$AGGD_URL/stats")
	[ "$(jq '.received == .unique_processed + .duplicate_dropped' <<<"$stats")" = true ]
	[ "$(jq .unique_processed <<<"$stats")" = "$total" ]
}

@test "6000 events, 25% duplicates, 6 concurrent clients: exact counts; stats agree with /events" {
	start_aggd
	pids=
	for c in 0 1 2 3 4 5; do
		(
			for r in 0 1 2 3 4 5 6 7 8 9; do
				# 75 new ids per request plus 25 re-sends of ids of
				# this or an earlier request of the same client
				lo=$((c * 1000 + r * 75 + 1))
				body="["
				for i in $(seq "$lo" $((lo + 74))); do body+="$(event "c$((c % 3))" "id$i"),"; done
				for i in $(seq $((c * 1000 + 1)) $((c * 1000 + 25))); do body+="$(event "c$((c % 3))" "id$i"),"; done
				curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
				    --data-binary "${body%,}]" "$AGGD_URL/publish"
			done >"$TMP/codes.$c"
		) &
		pids+=" $!"
	done
	wait $pids
	[ "$(cat "$TMP"/codes.* | sort -u)" = 200 ]
	[ "$(counts)" = '[6000,4500,1500]' ]
	n=0 after=0
	while :; do
		page=$(curl -s "$AGGD_URL/events?after=$after&limit=700")
		n=$((n + $(jq .count <<<"$page")))
		next=$(jq .next <<<"$page")
		[ "$next" = null ] && break
		after=$next
	done
	[ "$n" = 4500 ]
}

@test "stdin: NDJSON from a pipe is stored, bad lines reported with their number; -x exits 0" {
	{
		event s 1; echo
		echo '{broken'
		event s 2; echo
		echo
		event s 1; echo
		echo '{"topic":"s","event_id":"3"}'
		printf '%s' "$(event s 4)"
	} >"$TMP/in.ndjson"
	run bash -c "'$AGG_BIN/aggd' -x -l 127.0.0.1:0 -d '$AGGD_DB' <'$TMP/in.ndjson'"
	[ "$status" = 0 ]
	[[ "$output" == *"stdin:2: "* ]]
	[[ "$output" == *"stdin:6: "* ]]
	start_aggd
	[ "$(counts)" = '[4,3,1]' ]
}

@test "stdin: a line over --max-body is skipped by its number, in bounded memory" {
	{
		event s 1; echo
		head -c 48000000 /dev/zero | tr '\0' x; echo	# 48 MB, one line
		event s 2; echo
		head -c 3000000 /dev/zero | tr '\0' y		# no newline at the end
	} >"$TMP/in.ndjson"
	# the peak of the same aggd on a small input, for comparison
	{ event small 1; echo; } >"$TMP/small.ndjson"
	AGGD_STDIN=$TMP/small.ndjson start_aggd --max-body 1M
	wait_log "stdin: 1 lines"
	base=$(awk '/^VmHWM/ { print $2 }' "/proc/$AGGD_PID/status")
	stop_aggd
	AGGD_STDIN=$TMP/in.ndjson start_aggd --max-body 1M
	wait_log "stdin: 4 lines"
	grep -q 'stdin:2: longer than 1048576 bytes (--max-body): skipped' "$TMP/aggd.log"
	grep -q 'stdin:4: longer than 1048576 bytes' "$TMP/aggd.log"
	grep -q '2 events stored (2 new, 0 duplicates), 2 bad lines skipped' "$TMP/aggd.log"
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$AGGD_PID/status")
	echo "peak RSS $hwm KiB, $base KiB on one line"
	[ "$hwm" -lt $((base + 16000)) ]	# the 48 MB line was never held
	[ "$(counts)" = '[3,3,0]' ]
}

@test "stdin: aggd keeps serving after the input ends without -x" {
	printf '%s\n' "$(event p 1)" "$(event p 2)" >"$TMP/in.ndjson"
	AGGD_STDIN=$TMP/in.ndjson start_aggd
	for i in $(seq 600); do [ "$(counts)" = '[2,2,0]' ] && break; sleep 0.05; done
	[ "$(counts)" = '[2,2,0]' ]
	run publish "$(event p 3)"
	[ "$(jq -r .unique <<<"$output")" = 1 ]
}

@test "stdin: a line stored wakes a long poll at once" {
	mkfifo "$TMP/in"
	exec {w}<>"$TMP/in"	# a writer first, so that aggd's open returns
	AGGD_STDIN=$TMP/in start_aggd
	curl -s "$AGGD_URL/events?topic=lp&wait=20" >"$TMP/lp" &
	poller=$!
	wait_metric agg_http_long_polls ">=" 1
	SECONDS=0
	printf '%s\n' "$(event lp 1)" >&"$w"
	wait "$poller"
	echo "answered after $SECONDS s: $(cat "$TMP/lp")"
	[ "$SECONDS" -le 2 ]
	[ "$(jq -c '[.count,.events[0].event_id]' "$TMP/lp")" = '[1,"1"]' ]
	exec {w}>&-
}

@test "a store file that is a symbolic link: aggd syncs the WAL that SQLite writes" {
	mkdir -p "$TMP/real" "$TMP/links"
	ln -s ../real/dedup.db "$TMP/links/dedup.db"
	start_aggd -d "$TMP/links/dedup.db"
	publish "$(event t 1)" >/dev/null
	[ "$(last_code)" = 200 ]
	[ -s "$TMP/real/dedup.db-wal" ]
	[ ! -e "$TMP/links/dedup.db-wal" ]
	# every descriptor aggd holds on a WAL is on that one
	ls -l "/proc/$AGGD_PID/fd" | grep -- '-wal$' >"$TMP/fds"
	cat "$TMP/fds"
	[ -s "$TMP/fds" ]
	! grep -v -- "-> $TMP/real/dedup.db-wal\$" "$TMP/fds"
}

@test "threads are named after their jobs" {
	start_aggd
	# (the main thread is the loop, named aggd, or valgrind's tool under it)
	[ "$(grep -h '^aggd-' /proc/$AGGD_PID/task/*/comm | sort | tr '\n' ' ')" = \
	    "aggd-maint aggd-parse aggd-reader aggd-sync aggd-writer " ]
}

@test "SIGTERM answers a request in flight, then exits 0" {
	start_aggd
	for i in $(seq 3000); do event inflight "e$i"; echo; done >"$TMP/big.ndjson"
	# the head and half the body sent: the request has begun
	aggabuse halfpost "127.0.0.1:$AGGD_PORT" "$TMP/big.ndjson" "$TMP/go" >"$TMP/resp" &
	client=$!
	until grep -qx sent "$TMP/resp"; do kill -0 "$client" || false; sleep 0.02; done
	kill -TERM "$AGGD_PID"
	wait_log "finishing requests in flight"
	touch "$TMP/go"		# the rest of the body, after the signal
	wait "$client"
	cat "$TMP/resp"
	grep -qx 'status=200' "$TMP/resp"
	[ "$(sed -n 3p "$TMP/resp" | jq -c .)" = '{"accepted":3000,"unique":3000,"duplicates":0}' ]
	exited_cleanly
	start_aggd
	[ "$(counts)" = '[3000,3000,0]' ]
}

@test "SIGHUP, SIGUSR1 and SIGUSR2 are ignored; SIGQUIT stops as SIGTERM does" {
	start_aggd
	publish "$(event sig e1)" >/dev/null
	kill -HUP "$AGGD_PID"
	kill -USR1 "$AGGD_PID"
	kill -USR2 "$AGGD_PID"
	# answering takes the loop's thread, so a fatal signal would be seen
	publish "$(event sig e2)" >/dev/null
	[ "$(cat "$TMP/code")" = 200 ]
	[ "$(counts)" = '[2,2,0]' ]
	kill -0 "$AGGD_PID"
	kill -QUIT "$AGGD_PID"
	exited_cleanly
	grep -q "Quit: finishing requests in flight" "$TMP/aggd.log"
	start_aggd
	[ "$(counts)" = '[2,2,0]' ]
}

@test "SIGTERM with 500 clients that read nothing of 4 MB pages: gone within 10 s" {
	pad=$(head -c 4000 /dev/zero | tr '\0' p)
	for i in $(seq 1000); do event big "$i" "{\"p\":\"$pad\"}"; echo; done >"$TMP/big.ndjson"
	mkdir -p "$(dirname "$AGGD_DB")"
	aggd -x -l 127.0.0.1:0 -d "$AGGD_DB" <"$TMP/big.ndjson" 2>/dev/null
	start_aggd
	fds=()
	for i in $(seq 500); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
		printf 'GET /events?limit=10000 HTTP/1.1\r\nHost: t\r\n\r\n' >&$fd
		fds+=("$fd")
	done
	wait_metric agg_http_connections_open ">=" 500
	SECONDS=0
	kill -TERM "$AGGD_PID"
	exited_cleanly
	echo "gone after $SECONDS s"
	# (valgrind's leak check at the exit is not aggd's time)
	[ "${AGG_VALGRIND:-}" = 1 ] || [ "$SECONDS" -lt 10 ]
	for fd in "${fds[@]}"; do exec {fd}>&-; done
}

# exited_cleanly: aggd, sent SIGTERM by the test, exits 0 (it may have)
exited_cleanly() {
	local rc=0
	wait "$AGGD_PID" || rc=$?
	AGGD_PID=
	[ "$rc" = 0 ]
}

# sigterm_mid_reply [MORE [FIRST]]: aggd with 1000 events of 4 KB in topic
# big; on one connection two pipelined GET /events of them (4 MB each,
# which fill the kernel's socket buffers), and FIRST, read until the first
# answer has begun; then SIGTERM, and once aggd has said it stops, MORE is
# sent and the rest read at a steady pace into $TMP/out; sets $end (eof
# or reset) and $ms (from the signal to the end)
sigterm_mid_reply() {
	local pad i get=$'GET /events?topic=big&limit=10000 HTTP/1.1\r\nHost: t\r\n\r\n'
	start_aggd
	pad=$(head -c 4000 /dev/zero | tr '\0' p)
	for i in $(seq 1000); do
		event big "b$i" "{\"p\":\"$pad\"}"
		echo
	done >"$TMP/big.ndjson"
	curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' \
	    --data-binary @"$TMP/big.ndjson" "$AGGD_URL/publish"
	aggabuse pipeline "127.0.0.1:$AGGD_PORT" "$get$get${2:-}" "$TMP/go" "$TMP/out" \
	    ${1:+"$1"} >"$TMP/client" &
	client=$!
	until grep -qx reading "$TMP/client"; do kill -0 "$client" || false; sleep 0.02; done
	t0=$(date +%s%N)
	kill -TERM "$AGGD_PID"
	wait_log "finishing requests in flight"
	touch "$TMP/go"
	wait "$client"
	ms=$((($(date +%s%N) - t0) / 1000000))
	cat "$TMP/client"
	end=$(sed -n 's/^end=\([a-z]*\) .*/\1/p' "$TMP/client")
}

# whole_replies: $TMP/out is a run of whole answers with nothing after the
# last, the first of them a whole page; sets $replies (their number)
whole_replies() {
	local r
	r=$(aggabuse replies - "$TMP/out")
	echo "$r"
	replies=$(sed -n 's/^replies=\([0-9]*\) .*/\1/p' <<<"$r")
	[[ $r == *" rest=0 "* ]]
	[[ $r == *" statuses=200"* ]]
	[ "$(grep -c '"seq":1000,"received_at":"[^"]*"}],"next":null,"expired_through":0}' "$TMP/out")" -ge 1 ]
}

@test "SIGTERM: a reply still going out is sent whole, then the connection closes at once" {
	sigterm_mid_reply
	whole_replies
	[ "$end" = eof ]
	# closed once the replies were out, not at the end of the grace
	echo "closed after $ms ms"
	[ "$ms" -lt 6000 ]
	exited_cleanly
}

@test "SIGTERM: a request sent while a reply goes out does not cut that reply short" {
	# unread while the replies go out; then aggd ends the connection,
	# which must not reset it over these bytes
	sigterm_mid_reply $'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n'
	whole_replies
	[ "$end" = eof ]
	exited_cleanly
}

@test "SIGTERM: replies a pipelining client has not read yet survive the close" {
	# a third request read before the signal; aggd answers pipelined
	# requests up to the first it answers after the signal, which says
	# Connection: close, whichever that is
	sigterm_mid_reply $'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' \
	    $'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n'
	whole_replies
	[ "$end" = eof ]
	[ "$replies" -le 3 ]
	grep -q ' close=1 ' <<<"$(aggabuse replies - "$TMP/out")"
	exited_cleanly
}

@test "operator errors: one clear line and exit 1" {
	start_aggd
	run "$AGG_BIN/aggd" -l "127.0.0.1:$AGGD_PORT" -d "$TMP/other.db"
	[ "$status" = 1 ]
	[[ "$output" == *"Address already in use"* ]]
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ "$output" == *"in use by another aggd"* ]]
	head -c 8192 /dev/urandom >"$TMP/garbage.db"
	cp "$TMP/garbage.db" "$TMP/garbage.orig"
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$TMP/garbage.db"
	[ "$status" = 1 ]
	[[ "$output" == *"not a database"* ]]
	cmp "$TMP/garbage.db" "$TMP/garbage.orig"
	touch "$TMP/file"
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$TMP/file/sub/dedup.db"
	[ "$status" = 1 ]
	[[ "$output" == *"cannot create directory"* ]]
	[ "$(echo "$output" | wc -l)" = 1 ]
}

@test "a low descriptor limit: fewer connections that really fit, or a clear refusal" {
	run timeout 5 bash -c "ulimit -n 64; exec '$AGG_BIN/aggd' -l 127.0.0.1:0 -d '$AGGD_DB'"
	[ "$status" = 1 ]
	[ "$(untimed <<<"$output")" = "aggd: the descriptor limit of 64 leaves no room for connections (aggd keeps 64 for itself)" ]
	[ "${AGG_VALGRIND:-}" != 1 ] || skip "valgrind needs descriptors of its own"
	mkdir "$TMP/lowfd"
	printf '#!/bin/sh\nulimit -n 80\nexec "%s/aggd" "$@"\n' "$AGG_BIN" >"$TMP/lowfd/aggd"
	chmod +x "$TMP/lowfd/aggd"
	AGG_BIN=$TMP/lowfd start_aggd
	untimed <"$TMP/aggd.log" | grep -qx 'aggd: only 16 connections: the descriptor limit is 80'
	# 16 connections that hold a half-sent request, then one more: a 503
	for i in $(seq 16); do
		exec {s}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
		printf 'GET /stats HTTP/1.1\r\n' >&"$s"
	done
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$AGGD_URL/healthz")" = 503 ]
	stop_aggd
}

@test "an empty listen host is every address, IPv6 and IPv4" {
	grep -qs . /proc/net/if_inet6 || skip "no IPv6 here"
	"$AGG_BIN/aggd" -l :0 -d "$AGGD_DB" </dev/null 2>"$TMP/aggd.log" &
	AGGD_PID=$!
	for i in $(seq 100); do
		port=$(untimed <"$TMP/aggd.log" | sed -n 's/^aggd: listening on \[::\]:\([0-9]*\), .*/\1/p')
		[ -n "$port" ] && curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
		sleep 0.05
	done
	cat "$TMP/aggd.log"
	[ "$(curl -s "http://127.0.0.1:$port/healthz")" = '{"status":"ok"}' ]
	[ "$(curl -s "http://[::1]:$port/healthz")" = '{"status":"ok"}' ]
	stop_aggd
}

@test "a read-only store is refused with a clear error" {
	mkdir -p "$TMP/ro"
	start_aggd -d "$TMP/ro/dedup.db"
	stop_aggd
	if [ "$(id -u)" = 0 ]; then
		# root ignores permission bits: make the file immutable instead
		chattr +i "$TMP/ro/dedup.db" 2>/dev/null || skip "no chattr on this filesystem"
	else
		chmod 444 "$TMP/ro/dedup.db"
	fi
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$TMP/ro/dedup.db"
	chattr -i "$TMP/ro/dedup.db" 2>/dev/null || true
	[ "$status" = 1 ]
	[[ "$(untimed <<<"$output")" == "aggd: store $TMP/ro/dedup.db: "* ]]
}

@test "parent folders of the store are created; --help and --version; bad usage exits 2" {
	start_aggd -d "$TMP/a/b/c/dedup.db"
	[ -f "$TMP/a/b/c/dedup.db" ]
	run "$AGG_BIN/aggd" --help
	[ "$status" = 0 ]
	[[ "$output" == *"--listen"* ]]
	run "$AGG_BIN/aggd" --version
	[ "$status" = 0 ]
	[[ "$output" == "aggd "[0-9]* ]]
	run "$AGG_BIN/aggd" --bogus
	[ "$status" = 2 ]
	[ "$output" = "aggd: unknown option --bogus; try 'aggd --help'" ]
	# a size past 2^40 is refused, also when its suffix would wrap it
	for b in 1099511627777 17592186044417M 1073741825K; do
		run "$AGG_BIN/aggd" --max-body "$b"
		[ "$status" = 2 ]
		[ "$output" = "aggd: --max-body: not a whole number from 1 to 2^40: $b; try 'aggd --help'" ]
	done
	run "$AGG_BIN/aggd" --queue 0
	[ "$status" = 2 ]
	run "$AGG_BIN/aggd" extra
	[ "$status" = 2 ]
}

@test "a bad listen address is bad usage: one line, exit 2, nothing started" {
	for addr in 127.0.0.1:99999 127.0.0.1:65536 127.0.0.1:-1 127.0.0.1:8x \
	    nonsense 127.0.0.1: '[::1:80' no.such.host.invalid:80; do
		run "$AGG_BIN/aggd" -l "$addr" -d "$AGGD_DB"
		echo "$addr: $status $output"
		[ "$status" = 2 ]
		[ "${#lines[@]}" = 1 ]
		[[ $output == "aggd: listen address $addr: "*"; try 'aggd --help'" ]]
	done
	[ ! -e "$AGGD_DB" ]
	AGG_LISTEN=127.0.0.1:70000 run "$AGG_BIN/aggd" -d "$AGGD_DB"
	[ "$status" = 2 ]
	[ "$output" = "aggd: listen address 127.0.0.1:70000: the port must be a number from 0 to 65535; try 'aggd --help'" ]
}

@test "the letters of 1.1 still work, each with a warning" {
	start_aggd -t secret -r -q 100 -c 50 -b 1M
	for l in "-t is -k (--token) now" "-r is --relaxed now" \
	    "-q is --queue now" "-c is --max-conns now" "-b is --max-body now"; do
		grep -qF "aggd: $l; -${l:1:1} goes away in agg 2.0" "$TMP/aggd.log"
	done
	# and they took effect
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$AGGD_URL/stats")" = 401 ]
	[ "$(curl -s -H 'Authorization: Bearer secret' "$AGGD_URL/metrics" |
	    awk '$1 == "agg_ingest_queue_capacity" {print $2}')" = 100 ]
}

@test "the start line names the address, the store and its events; lines carry the time" {
	start_aggd
	publish "[$(event t 1),$(event t 2)]" >/dev/null
	stop_aggd
	start_aggd
	grep -Eq "^aggd: 20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z listening on 127.0.0.1:$AGGD_PORT, store $AGGD_DB with 2 events\$" "$TMP/aggd.log"
	stop_aggd
	# no time when standard error is systemd's journal, which adds its own
	: >"$TMP/journal"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/journal") timeout 5 "$AGG_BIN/aggd" \
	    -x -l 127.0.0.1:0 -d "$AGGD_DB" </dev/null 2>"$TMP/journal" || true
	head -n 1 "$TMP/journal"
	grep -Eq "^aggd: listening on 127.0.0.1:[0-9]+, store $AGGD_DB with 2 events\$" "$TMP/journal"
}

@test "a non-loopback address without a token is warned about" {
	"$AGG_BIN/aggd" -x -l 0.0.0.0:0 -d "$AGGD_DB" </dev/null 2>"$TMP/log" || true
	untimed <"$TMP/log" | grep -Eq "^aggd: warning: 0.0.0.0:[0-9]+ is reachable from other hosts and no token is set"
	"$AGG_BIN/aggd" -x -l 0.0.0.0:0 -k s -d "$AGGD_DB" </dev/null 2>"$TMP/log" || true
	! grep -q warning "$TMP/log"
	"$AGG_BIN/aggd" -x -l 127.0.0.1:0 -d "$AGGD_DB" </dev/null 2>"$TMP/log" || true
	! grep -q warning "$TMP/log"
}

@test "DEDUP_DB_PATH and AGG_LISTEN are honoured, flags override them" {
	DEDUP_DB_PATH=$TMP/env/dedup.db AGG_LISTEN=127.0.0.1:0 "$AGG_BIN/aggd" </dev/null 2>"$TMP/log" &
	pid=$!
	for i in $(seq 100); do grep -q listening "$TMP/log" && break; sleep 0.05; done
	kill "$pid"; wait "$pid"
	[ -f "$TMP/env/dedup.db" ]
	grep -q 'listening on 127.0.0.1:' "$TMP/log"
}

@test "while commits run, /events totals count exactly the events a page returns" {
	start_aggd
	# single events over 4 connections: a few seconds of commits, each
	# visible before its fsync; 7200 unique, within one page of 10000
	aggpub -q -n 9000 -T 2 -b 1 -c 4 -u "$AGGREGATOR_URL" &
	pub=$!
	polls=0 bad=0
	while kill -0 "$pub" 2>/dev/null; do
		for q in "topic=orders&" ""; do
			got=$(curl -fs "$AGGD_URL/events?${q}limit=10000" |
			    jq -er '"\(.total|numbers) \(.count|numbers) \(.next)"')
			read -r total count next <<<"$got"
			[ "$next" = null ] || { echo "a page of $count events" >&2; return 1; }
			[ "$total" = "$count" ] || { echo "total $total, events $count" >&2; bad=$((bad + 1)); }
			polls=$((polls + 1))
		done
	done
	wait "$pub"
	echo "$polls polls, $bad with a total other than the events" >&2
	[ "$polls" -ge 4 ]
	[ "$bad" = 0 ]
	# all there, and /stats agrees
	[ "$(curl -fs "$AGGD_URL/events?limit=10000" | jq -e .count)" = 7200 ]
	[ "$(curl -fs "$AGGD_URL/stats" | jq -e .unique_processed)" = 7200 ]
}
