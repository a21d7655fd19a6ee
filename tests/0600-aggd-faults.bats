#!/usr/bin/env bats
# Faults: kill -9 in a loop under load, a full disk, a store that is
# read-only, deleted or garbage, and clients that vanish mid-request.
# Every acknowledged event must be stored exactly once, and the counters
# must agree with the events, whatever happens.

load helper

# The helper's teardown, kept: ours first undoes mounts and attributes.
eval "$(declare -f teardown | sed '1s/^teardown/helper_teardown/')"
teardown() {
	if [ -n "${MNT:-}" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	[ -z "${IMMUTABLE:-}" ] || chattr -i "$IMMUTABLE" 2>/dev/null || true
	release_holder
	helper_teardown
}

# The sqlite3 reader a test keeps on a snapshot (HOLDER, fed on fd 5).
release_holder() {
	[ -n "${HOLDER:-}" ] || return 0
	exec 5>&-
	kill "$HOLDER" 2>/dev/null || true
	wait "$HOLDER" 2>/dev/null || true
	HOLDER=
}

counts() {
	curl -s "$AGGD_URL/stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]'
}

# all_events FILE: every event over all pages of /events, one per line
all_events() {
	local after=0 page next
	: >"$1"
	while :; do
		page=$(curl -s "$AGGD_URL/events?after=$after&limit=10000")
		jq -c '.events[]' <<<"$page" >>"$1"
		next=$(jq .next <<<"$page")
		[ "$next" = null ] && break
		after=$next
	done
}

# batch PREFIX FIRST LAST: a JSON array of events PREFIX$FIRST..PREFIX$LAST
batch() {
	local i out="["
	for i in $(seq "$2" "$3"); do out+="$(event f "$1$i" '{"pad":"'"$PAD"'"}'),"; done
	printf '%s]' "${out%,}"
}

# big_batch PREFIX N: N events of ~1 KB, ids PREFIX1..PREFIXN (awk: fast)
big_batch() {
	awk -v p="$1" -v n="$2" -v pad="$(head -c 900 /dev/zero | tr '\0' p)" 'BEGIN {
		printf "["
		for (i = 1; i <= n; i++)
			printf "%s{\"topic\":\"f\",\"event_id\":\"%s%d\",\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":\"test\",\"payload\":{\"pad\":\"%s\"}}", (i > 1 ? "," : ""), p, i, pad
		printf "]"
	}'
}

# publish_until_refused N MAX: batches of N big events ($TMP/batch) until
# one is not answered 200; sets full (its number, empty if none) and code
publish_until_refused() {
	local b
	full= code=
	for b in $(seq 1 "$2"); do
		big_batch "w$b-" "$1" >"$TMP/batch"
		publish @"$TMP/batch" -H 'Expect:' >/dev/null || true
		code=$(last_code)
		[ "$code" = 200 ] || { full=$b; return 0; }
	done
}

@test "kill -9 22 times under 3 publishers (150k events, 20% duplicates): every event stored once" {
	n=50000
	# the exact events of each publisher, as NDJSON
	for s in 101 202 303; do
		"$AGG_BIN/aggpub" -o - -n $n -D 0.2 -s $s >"$TMP/gen.$s" 2>/dev/null
	done
	start_aggd
	port=$AGGD_PORT
	pids=()
	# small batches keep the publishers busy through all the kills
	for s in 101 202 303; do
		"$AGG_BIN/aggpub" -q -n $n -D 0.2 -s $s -b 5 -c 2 -r 1000 \
		    -u "$AGGD_URL/publish" 2>"$TMP/pub.$s.err" &
		pids+=($!)
	done
	# Kill while any publisher still runs: how many kills fit depends
	# on the machine's speed, so the test asks for at least 10.
	# Each kill once 2000 more events were received: the publishers
	# send over 150000, so all 22 kills land while they run, however
	# fast the machine is.
	kills=0 seen=0
	while [ $kills -lt 22 ]; do
		until [ "$(curl -s "$AGGD_URL/stats" | jq '.received // 0')" -ge $((seen + 2000)) ]; do
			busy=0
			for p in "${pids[@]}"; do
				kill -0 "$p" 2>/dev/null && { busy=1; break; }
			done
			[ $busy = 1 ] || break 2
			sleep 0.02
		done
		seen=$(curl -s "$AGGD_URL/stats" | jq '.received')
		busy=0
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null && { busy=1; break; }
		done
		[ $busy = 1 ] || break
		kill9_aggd
		kills=$((kills + 1))
		start_aggd -l "127.0.0.1:$port"
	done
	for i in 0 1 2; do
		rc=0
		wait "${pids[$i]}" || rc=$?
		[ $rc = 0 ] || { echo "aggpub ${pids[$i]} exited $rc"; cat "$TMP"/pub.*.err; false; }
	done
	echo "kills while publishing: $kills"
	[ "$kills" = 22 ]
	[ "$(cat "$TMP"/gen.* | wc -l)" = $((3 * n)) ]
	cat "$TMP"/gen.* | jq -c '{topic,event_id,timestamp,source,payload}' |
	    sort -u >"$TMP/want"
	want=$(wc -l <"$TMP/want")
	[ "$want" = 120000 ]	# 3 x (50000 - 20%); the seeds share no id
	[ "$(jq -r '[.topic,.event_id]|@tsv' "$TMP/want" | sort -u | wc -l)" = "$want" ]
	stats=$(curl -s "$AGGD_URL/stats")
	echo "$stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]'
	[ "$(jq '.received == .unique_processed + .duplicate_dropped' <<<"$stats")" = true ]
	[ "$(jq .unique_processed <<<"$stats")" = "$want" ]
	[ "$(jq .received <<<"$stats")" -ge $((3 * n)) ]	# re-sends count
	all_events "$TMP/got.raw"
	[ "$(wc -l <"$TMP/got.raw")" = "$want" ]
	jq -c '{topic,event_id,timestamp,source,payload}' "$TMP/got.raw" | sort >"$TMP/got"
	[ "$(jq -r '[.topic,.event_id]|@tsv' "$TMP/got.raw" | sort -u | wc -l)" = "$want" ]
	sort "$TMP/want" | cmp - "$TMP/got"
	# seq: unique and increasing across the store
	jq .seq "$TMP/got.raw" | sort -n -c -u
}

@test "disk full: 507, nothing half-stored, reads served, recovers by itself when space returns" {
	MNT=$TMP/mnt
	mkdir -p "$MNT"
	mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null || { MNT=; skip "cannot mount a tmpfs"; }
	head -c 400K /dev/zero >"$MNT/filler"
	AGGD_DB=$MNT/store/dedup.db
	start_aggd
	PAD=$(head -c 500 /dev/zero | tr '\0' p)
	full=
	for b in $(seq 1 200); do
		batch "b$b-" 1 20 >"$TMP/batch"
		run publish "$(cat "$TMP/batch")"
		[ "$(last_code)" = 200 ] && continue
		full=$b
		break
	done
	echo "full at batch $full: $(last_code) $output"
	[ -n "$full" ]
	[ "$(last_code)" = 507 ]
	[ "$(jq -r .error <<<"$output")" = "the store's disk is full; nothing of this request was stored" ]
	stored=$(((full - 1) * 20))
	# still full: refused again, and reads go on
	run publish "$(cat "$TMP/batch")"
	[ "$(last_code)" = 507 ]
	[ "$(counts)" = "[$stored,$stored,0]" ]
	run get "$AGGD_URL/events?limit=10000"
	[ "$(last_code)" = 200 ]
	[ "$(jq .count <<<"$output")" = "$stored" ]
	[ "$(jq '[.events[] | select(.event_id | startswith("b'"$full"'-"))] | length' <<<"$output")" = 0 ]
	run get "$AGGD_URL/stats"
	[ "$(last_code)" = 200 ]
	run get "$AGGD_URL/healthz"
	[ "$(last_code)" = 200 ]
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_commit_failures_total" {print $2}')" -ge 2 ]
	# room again: the refused batch goes in whole, with no restart
	rm "$MNT/filler"
	pid=$AGGD_PID
	run publish "$(cat "$TMP/batch")"
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . <<<"$output")" = '{"accepted":20,"unique":20,"duplicates":0}' ]
	run publish "$(cat "$TMP/batch")"
	[ "$(jq -c . <<<"$output")" = '{"accepted":20,"unique":0,"duplicates":20}' ]
	[ "$AGGD_PID" = "$pid" ] && kill -0 "$pid"
	[ "$(counts)" = "[$((stored + 40)),$((stored + 20)),20]" ]
	stop_aggd
}

@test "disk full: a 507 stays unstored through kill -9 while full; checkpoint failures told once" {
	MNT=$TMP/mnt
	mkdir -p "$MNT"
	mount -t tmpfs -o size=8m tmpfs "$MNT" 2>/dev/null || { MNT=; skip "cannot mount a tmpfs"; }
	AGGD_DB=$MNT/store/dedup.db
	start_aggd
	# leave 1 MiB: a few batches go in, then the WAL and checkpoints fail
	head -c $((($(df -k --output=avail "$MNT" | tail -1) - 1024) * 1024)) /dev/zero >"$MNT/filler" || true
	publish_until_refused 100 100
	echo "full at batch $full: $code $(cat "$TMP/resp")"
	[ -n "$full" ] && [ "$full" -gt 1 ]
	[ "$code" = 507 ]
	stored=$(((full - 1) * 100))
	[ "$(counts)" = "[$stored,$stored,0]" ]
	for i in $(seq 1 50); do
		grep -q 'checkpoints fail' "$TMP/aggd.log" && break
		sleep 0.1
	done
	sleep 0.5
	[ "$(grep -c 'checkpoints fail' "$TMP/aggd.log")" = 1 ]
	grep -q "checkpoints fail: the store's disk is full" "$TMP/aggd.log"
	# killed while still full: what was refused is not there at restart
	kill9_aggd
	rm "$MNT/filler"
	start_aggd
	[ "$(counts)" = "[$stored,$stored,0]" ]
	publish @"$TMP/batch" >/dev/null
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . "$TMP/resp")" = '{"accepted":100,"unique":100,"duplicates":0}' ]
	[ "$(counts)" = "[$((stored + 100)),$((stored + 100)),0]" ]
	stop_aggd
}

# snapshot DIR: names, sizes and checksums of every file in DIR
snapshot() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# start_failing_aggd: aggd with tests/tools/failsync.c preloaded, whose
# syncs fail once $TMP/fail names them (ASan must then not insist on
# coming first among the libraries)
start_failing_aggd() {
	cc -shared -fPIC -o "$TMP/failsync.so" "$BATS_TEST_DIRNAME/tools/failsync.c" -ldl
	AGG_FAILSYNC=$TMP/fail LD_PRELOAD=$TMP/failsync.so \
	    ASAN_OPTIONS=verify_asan_link_order=0 start_aggd
}

# exit_status: aggd's exit status once it has gone by itself (within 30 s)
exit_status() {
	local i rc=0
	for i in $(seq 300); do
		kill -0 "$AGGD_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$AGGD_PID" || rc=$?
	AGGD_PID=
	echo "$rc"
}

@test "the disk fails the WAL's sync: exit 1, one line; what was acknowledged is kept" {
	start_failing_aggd
	publish "$(event t a)" >/dev/null
	[ "$(last_code)" = 200 ]
	echo wal >"$TMP/fail"
	publish "$(event t b)" >/dev/null || true
	[ "$(last_code)" = 000 ]	# no answer: b was never acknowledged
	[ "$(exit_status)" = 1 ]
	cat "$TMP/aggd.log"
	# aggd's sync or SQLite's own (of the WAL's header, as it starts over),
	# whichever comes first
	untimed <"$TMP/aggd.log" | grep -Eq "^aggd: ((fdatasync of the store's WAL|writing the WAL back into the store): Input/output error|commit of 1 request failed \(store: disk I/O error\) after it may have reached the WAL: a restart recovers what it stored)$"
	start_aggd
	run get "$AGGD_URL/events?topic=t"
	[ "$(jq -c '[.events[].event_id][0]' <<<"$output")" = '"a"' ]
	c=$(counts)
	[ "$(jq '.[0] == .[1] + .[2]' <<<"$c")" = true ]
}

@test "the disk fails the database's writeback: exit 1, one line; nothing lost" {
	PAD=$(head -c 500 /dev/zero | tr '\0' p)
	start_failing_aggd
	publish "$(batch w 1 100)" >/dev/null
	[ "$(last_code)" = 200 ]
	echo writeback >"$TMP/fail"
	publish "$(batch w 101 200)" >/dev/null || true
	[ "$(exit_status)" = 1 ]
	cat "$TMP/aggd.log"
	untimed <"$TMP/aggd.log" | grep -q "^aggd: writing the WAL back into the store: Input/output error$"
	start_aggd
	[ "$(curl -s "$AGGD_URL/events?topic=f&limit=1000" | jq '[.events[].event_id] | length >= 100')" = true ]
	c=$(counts)
	[ "$(jq '.[0] == .[1] + .[2]' <<<"$c")" = true ]
}

@test "the WAL's index cannot grow once a commit is in the WAL: no answer, exit 1; the restart decides, a retry is stored once" {
	start_failing_aggd
	echo shm >"$TMP/fail"
	# a reader's snapshot keeps the WAL from starting over, so it grows
	mkfifo "$TMP/hold"
	sqlite3 "$AGGD_DB" <"$TMP/hold" >"$TMP/held" 3>&- &
	HOLDER=$!
	exec 5>"$TMP/hold"
	printf 'BEGIN;\nSELECT count(*) FROM events;\n' >&5
	until [ -s "$TMP/held" ]; do sleep 0.02; done	# the snapshot is open
	# ~250 WAL pages a batch: the index grows past its first 4062 pages
	publish_until_refused 1000 40
	echo "failed at batch $full: $code"
	[ -n "$full" ] && [ "$full" -gt 1 ]
	[ "$code" = 000 ]	# no answer: neither stored nor refused is known
	[ "$(exit_status)" = 1 ]
	release_holder
	cat "$TMP/aggd.log"
	untimed <"$TMP/aggd.log" | grep -q "^aggd: commit of 1 request failed (store: disk I/O error) after it may have reached the WAL: a restart recovers what it stored$"
	start_aggd
	stored=$(((full - 1) * 1000))
	c=$(counts)
	echo "after restart: $c"
	# the unanswered batch was in the WAL whole: recovery replays it
	[ "$c" = "[$((stored + 1000)),$((stored + 1000)),0]" ]
	publish @"$TMP/batch" >/dev/null
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . "$TMP/resp")" = '{"accepted":1000,"unique":0,"duplicates":1000}' ]
}

@test "store file immutable (chattr +i): one clear line, exit 1, nothing changed" {
	start_aggd
	publish "$(event t 1)" >/dev/null
	stop_aggd
	echo keep >"$TMP/store/other.txt"
	chattr +i "$AGGD_DB" 2>/dev/null || skip "no chattr on this filesystem"
	IMMUTABLE=$AGGD_DB
	snapshot "$TMP/store" >"$TMP/before"
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB"
	echo "$output"
	[ "$status" = 1 ]
	[ "${#lines[@]}" = 1 ]
	[ "$(untimed <<<"$output")" = "aggd: store $AGGD_DB: Operation not permitted" ]
	snapshot "$TMP/store" | cmp - "$TMP/before"
	chattr -i "$AGGD_DB"
	start_aggd
	[ "$(counts)" = '[1,1,0]' ]
}

@test "store on a read-only file system: one clear line, exit 1, nothing changed" {
	MNT=$TMP/mnt
	mkdir -p "$MNT"
	mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null || { MNT=; skip "cannot mount a tmpfs"; }
	AGGD_DB=$MNT/dedup.db
	start_aggd
	publish "$(event t 1)" >/dev/null
	stop_aggd
	echo keep >"$MNT/other.txt"
	mount -o remount,ro "$MNT"
	snapshot "$MNT" >"$TMP/before"
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB"
	echo "$output"
	[ "$status" = 1 ]
	[ "${#lines[@]}" = 1 ]
	[ "$(untimed <<<"$output")" = "aggd: store $AGGD_DB: Read-only file system" ]
	snapshot "$MNT" | cmp - "$TMP/before"
}

# Documented here: a store deleted while aggd is stopped (the three files,
# as aggd(8) FILES says) is started afresh, empty, without a complaint.
@test "store deleted while stopped: aggd starts a fresh, empty store" {
	start_aggd
	publish "[$(event t 1),$(event t 2)]" >/dev/null
	[ "$(counts)" = '[2,2,0]' ]
	stop_aggd
	echo keep >"$TMP/store/other.txt"
	rm -f "$AGGD_DB" "$AGGD_DB-wal" "$AGGD_DB-shm"
	snapshot "$TMP/store" >"$TMP/before"
	start_aggd
	[ "$(counts)" = '[0,0,0]' ]
	[ "$(curl -s "$AGGD_URL/events" | jq -c '[.total,.count]')" = '[0,0]' ]
	run publish "$(event t 1)"
	[ "$(jq -c . <<<"$output")" = '{"accepted":1,"unique":1,"duplicates":0}' ]
	stop_aggd
	[ "$(cat "$TMP/store/other.txt")" = keep ]
}

@test "store replaced by garbage at start: one clear line, exit 1, every file byte-identical" {
	start_aggd
	publish "$(event t 1)" >/dev/null
	stop_aggd
	echo keep >"$TMP/store/other.txt"
	for garbage in random sqlite-header; do
		if [ $garbage = random ]; then
			head -c 10000 /dev/urandom >"$AGGD_DB"
		else	# the right magic, then noise
			{ printf 'SQLite format 3\0'; head -c 8176 /dev/urandom; } >"$AGGD_DB"
		fi
		snapshot "$TMP/store" >"$TMP/before"
		run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB"
		echo "$garbage: $output"
		[ "$status" = 1 ]
		[ "${#lines[@]}" = 1 ]
		[[ "$(untimed <<<"$output")" == "aggd: store $AGGD_DB: "* ]]
		[[ "$output" == *"not a database"* ]]
		snapshot "$TMP/store" | cmp - "$TMP/before"
	done
}

# raw_send REQUEST: sends it on a fresh connection and closes at once,
# reading nothing
raw_send() {	# fd 3 belongs to bats
	exec 8<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
	printf '%s' "$1" >&8
	exec 8>&-
}

@test "clients that vanish mid-request: incomplete bodies store nothing, complete ones all or none" {
	start_aggd
	# 1. half a body (Content-Length and chunked), then gone
	for i in $(seq 1 20); do
		body="[$(event cut "h$i-1"),$(event cut "h$i-2")]"
		raw_send "$(printf 'POST /publish HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
		    ${#body} "${body:0:$((${#body} / 2))}")"
		raw_send "$(printf 'POST /publish HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n' \
		    ${#body} "$body")"	# no last chunk
		raw_send "$(printf 'POST /publish HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n' ${#body})"
	done
	wait_metric agg_http_connections_open "<=" 1	# all seen gone
	[ "$(counts)" = '[0,0,0]' ]
	run get "$AGGD_URL/healthz"
	[ "$(last_code)" = 200 ]
	# 2. a whole body of 20 events, then gone before the answer
	for i in $(seq 1 30); do
		body="["
		for j in $(seq 1 20); do body+="$(event cut "c$i-$j"),"; done
		body="${body%,}]"
		raw_send "$(printf 'POST /publish HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
		    ${#body} "$body")"
	done
	# a request's connection stays until its commit is answered
	wait_metric agg_http_connections_open "<=" 1
	all_events "$TMP/got"
	# per request: 0 or 20 of its events, never some
	jq -r '.event_id | sub("-[0-9]+$"; "")' "$TMP/got" | sort | uniq -c |
	    awk '$1 != 20 { print "request " $2 " has " $1 " events"; bad = 1 } END { exit bad }'
	n=$(wc -l <"$TMP/got")
	echo "stored $n of 600"
	[ "$(counts)" = "[$n,$n,0]" ]
	run get "$AGGD_URL/healthz"
	[ "$(last_code)" = 200 ]
	run publish "$(event cut after)"
	[ "$(jq -c . <<<"$output")" = '{"accepted":1,"unique":1,"duplicates":0}' ]
	[ "$(curl -s "$AGGD_URL/metrics" | awk '$1 == "agg_http_connections_open" {print $2}')" -le 1 ]
	stop_aggd
}
