#!/usr/bin/env bats
# Many aggd on one PostgreSQL database (CONTRACT "Many aggd on one
# database"): dedup across them, counters that agree, followers that get
# every event once in seq order whichever aggd took it, and a database
# that goes away and comes back.  Runs when AGG_PG names the test server
# (tests/run starts one); the faults start servers of their own.

load helper

setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/agg.XXXXXX")
	AGGD_PID=
	PIDS=() URLS=()
	[ -z "${AGG_PG:-}" ] || pg_database
}

teardown() {
	local p
	# each by its pid: a bare wait would also wait for bats' own
	# BATS_TEST_TIMEOUT watchdog, the whole timeout
	for p in "${PIDS[@]}" ${AGGD_PID:-} ${FOLLOWERS:-}; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -z "${PGDIR:-}" ] || tests_pgserver stop "$PGDIR"
	rm -rf "$TMP" ${PGDIR:+"$PGDIR"}
}

tests_pgserver() {
	"$BATS_TEST_DIRNAME/pgserver" "$@"
}

# start_many N: N aggd on AGGD_DB; PIDS[i], URLS[i], logs aggd$i.log
start_many() {
	local i
	for i in $(seq 1 "$1"); do
		AGGD_LOG=$TMP/aggd$i.log start_aggd || return 1
		PIDS[$i]=$AGGD_PID URLS[$i]=$AGGD_URL
	done
	AGGD_PID=
}

# figures URL: "R U D" from /stats
figures() {
	curl -fsS "$1/stats" | jq -r '"\(.received) \(.unique_processed) \(.duplicate_dropped)"'
}

# follow URL OUT N: a follower (after + wait) until it has N events; each
# as "seq topic/event_id" in OUT
follow() {
	local after=0 n=0 body
	while [ "$n" -lt "$3" ]; do
		body=$(curl -fsS "$1/events?after=$after&limit=500&wait=10") ||
		    return 1
		jq -r '.events[] | "\(.seq) \(.topic)/\(.event_id)"' \
		    <<<"$body" >>"$2"
		after=$(jq -r --argjson a "$after" \
		    '.next // (.events | last | .seq) // $a' <<<"$body")
		n=$(wc -l <"$2")
	done
}

# check_followed OUT U: seqs strictly increasing, U events, each once
check_followed() {
	local n
	n=$(wc -l <"$1")
	[ "$n" -eq "$2" ] || { echo "$1: $n events, want $2" >&2; return 1; }
	cut -d' ' -f1 "$1" | sort -c -n -u || {
		echo "$1: seqs out of order or repeated" >&2; return 1; }
	[ "$(cut -d' ' -f2 "$1" | sort -u | wc -l)" -eq "$2" ] || {
		echo "$1: an identity twice" >&2; return 1; }
}

# wait_unique URL U: until aggd at URL counts U unique (the others'
# commits reach it within a second); fails if it never does
wait_unique() {
	local f
	for _ in $(seq 200); do
		f=$(figures "$1")
		[ "${f#* }" = "$2 ${f##* }" ] && return 0
		sleep 0.05
	done
	echo "$1 counts $f, not $2 unique" >&2
	return 1
}

# unique_of ARGS: how many identities aggpub ARGS generates
unique_of() {
	aggpub "$@" -o - | jq -r '"\(.topic)/\(.event_id)"' | sort -u | wc -l
}

@test "three aggd: one identity stored once whichever took it, the same figures from each" {
	pg_only
	local u i
	u=$(unique_of -q -n 3000 -s 7)
	start_many 3
	local pubs=()
	for i in 1 2 3; do
		aggpub -q -n 3000 -s 7 -b 50 -c 4 -u "${URLS[$i]}" &
		pubs+=($!)
	done
	for i in "${pubs[@]}"; do wait "$i"; done
	# each aggd learns of the others' commits by itself (within a second)
	for i in 1 2 3; do
		wait_unique "${URLS[$i]}" "$u"
		[ "$(figures "${URLS[$i]}")" = "9000 $u $((9000 - u))" ]
		curl -fsS "${URLS[$i]}/metrics" |
		    grep -qx "agg_events_unique_total $u"
	done
	# the store holds each identity once
	[ "$(psql -X -At "$AGGD_DB" -c 'SELECT count(*),
	    count(DISTINCT (topic_id, event_id)) FROM agg_events')" = "$u|$u" ]
}

@test "three aggd started at once on an empty database make one schema" {
	pg_only
	local i n
	for i in 1 2 3; do
		"$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB" 2>"$TMP/aggd$i.log" &
		PIDS[$i]=$!
	done
	for i in 1 2 3; do
		for n in $(seq 200); do
			grep -q "listening on" "$TMP/aggd$i.log" && break
			kill -0 "${PIDS[$i]}" || { cat "$TMP/aggd$i.log"; return 1; }
			sleep 0.05
		done
		grep -q "listening on" "$TMP/aggd$i.log"
	done
	[ "$(psql -X -At "$AGGD_DB" -c 'SELECT count(*), max(version) FROM agg_schema')" = "1|2" ]
	[ "$(psql -X -At "$AGGD_DB" -c 'SELECT count(*) FROM agg_head')" = 1 ]
	! grep -i "error\|fatal" "$TMP"/aggd?.log
}

# A database with another schema version: refused at start, with a line
@test "a database of another schema version: aggd will not start and says why" {
	pg_only
	start_aggd
	stop_aggd
	psql -X -q "$AGGD_DB" -c "UPDATE agg_schema SET version = 9"
	run "$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB"
	[ "$status" -ne 0 ]
	[[ "$output" == *"schema is version 9, this aggd knows version 2"* ]]
	[ "$(grep -c . <<<"$output")" = 1 ]
}

@test "followers on every aggd get each event once, in seq order, while three aggd commit at once" {
	pg_only
	local u i
	u=$(( $(unique_of -q -n 4000 -s 11) + $(unique_of -q -n 4000 -s 12) ))
	start_many 3
	FOLLOWERS=
	local pubs=() fols=()
	for i in 1 2 3; do
		follow "${URLS[$i]}" "$TMP/followed$i" "$u" &
		fols+=($!)
	done
	FOLLOWERS=${fols[*]}
	for i in 1 2 3; do
		aggabuse waitmetric "127.0.0.1:${URLS[$i]##*:}" \
		    agg_http_long_polls '>=' 1
	done
	# overlapping publishers through all three: seeds 11 and 12 each sent
	# through two aggd, in requests of 1 to 100 events
	aggpub -q -n 4000 -s 11 -b 1 -c 8 -u "${URLS[1]}" & pubs+=($!)
	aggpub -q -n 4000 -s 11 -b 100 -c 2 -u "${URLS[2]}" & pubs+=($!)
	aggpub -q -n 4000 -s 12 -b 7 -c 4 -u "${URLS[3]}" & pubs+=($!)
	aggpub -q -n 4000 -s 12 -b 100 -c 2 -u "${URLS[1]}" & pubs+=($!)
	for i in "${pubs[@]}"; do wait "$i"; done
	for i in 1 2 3; do
		wait "${fols[$((i - 1))]}"
		check_followed "$TMP/followed$i" "$u"
	done
	# all saw the same events with the same seqs
	cmp "$TMP/followed1" "$TMP/followed2"
	cmp "$TMP/followed1" "$TMP/followed3"
}

@test "a follower on one aggd wakes within a second when another commits" {
	pg_only
	local t0 t1
	start_many 2
	curl -fsS "${URLS[2]}/events?after=0&wait=20" >"$TMP/page" &
	local poll=$!
	aggabuse waitmetric "127.0.0.1:${URLS[2]##*:}" agg_http_long_polls '>=' 1
	t0=$(date +%s%N)
	AGGD_URL=${URLS[1]} publish "$(event woke 1)" >/dev/null
	wait "$poll"
	t1=$(date +%s%N)
	[ "$(jq -r '.count' "$TMP/page")" = 1 ]
	echo "woken after $(( (t1 - t0) / 1000000 )) ms"
	[ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
}

# The cursor design's proof that the check above can fail: a naive
# sequence (nextval, no lock held to the commit) lets a later seq commit
# first; a follower that reads between the two commits passes the earlier
# seq for good.  Two psql sessions make that order deterministic (an
# advisory lock holds the first transaction open), and check_followed, the
# same check as above, must find the event missing.  aggd's commit takes
# the head's row lock first and holds it to COMMIT, so a second writer
# cannot take a seq before the first has committed.
@test "a naive sequence fails the same follower check (why aggd locks the head)" {
	pg_only
	local db=$AGGD_DB
	psql -X -q -v ON_ERROR_STOP=1 "$db" -c "CREATE TABLE naive
	    (seq bigserial PRIMARY KEY, topic text, event_id text)"
	# session A: takes seq 1, then waits for lock 42 before COMMIT
	psql -X -q -v ON_ERROR_STOP=1 "$db" -c "SELECT pg_advisory_lock(42)" \
	    -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	local holder=$!
	until [ "$(psql -X -At "$db" -c "SELECT count(*) FROM pg_locks
	    WHERE locktype = 'advisory' AND granted")" = 1 ]; do sleep 0.05; done
	psql -X -q -v ON_ERROR_STOP=1 "$db" <<-'EOF' >/dev/null 2>&1 &
	BEGIN;
	INSERT INTO naive (topic, event_id) VALUES ('t', 'a');
	SELECT pg_advisory_lock(42);
	COMMIT;
	EOF
	local a=$!
	until [ "$(psql -X -At "$db" -c "SELECT last_value FROM naive_seq_seq")" = 1 ] &&
	    [ "$(psql -X -At "$db" -c "SELECT count(*) FROM pg_locks
	    WHERE locktype = 'advisory' AND NOT granted")" = 1 ]; do
		sleep 0.05
	done
	# session B: seq 2, committed at once
	psql -X -q "$db" -c "INSERT INTO naive (topic, event_id) VALUES ('t', 'b')"
	# the follower reads: it sees seq 2 and moves its cursor past 1
	psql -X -At -F' ' "$db" -c "SELECT seq, topic || '/' || event_id
	    FROM naive WHERE seq > 0 ORDER BY seq" >"$TMP/naive"
	psql -X -q "$db" -c "SELECT pg_terminate_backend(pid) FROM pg_locks
	    WHERE locktype = 'advisory' AND granted" >/dev/null
	wait "$a"
	wait "$holder" || true
	psql -X -At -F' ' "$db" -c "SELECT seq, topic || '/' || event_id
	    FROM naive WHERE seq > 2 ORDER BY seq" >>"$TMP/naive"
	[ "$(psql -X -At "$db" -c 'SELECT count(*) FROM naive')" = 2 ]
	run check_followed "$TMP/naive" 2
	[ "$status" -ne 0 ]
	[[ "$output" == *"1 events, want 2"* ]]
}

# own_server: a PostgreSQL server for this test alone (it is stopped and
# started); AGGD_DB its database
own_server() {
	PGDIR=$(mktemp -d /tmp/aggpg.XXXXXX)
	AGGD_DB=$(tests_pgserver start "$PGDIR") || return 1
}

# code URL PATH: the HTTP status of a GET
code() {
	curl -s -o /dev/null -w '%{http_code}' "$1$2"
}

@test "PostgreSQL restarted (fast, then immediate) under load: every acknowledged event stored once" {
	pg_only
	local u
	own_server
	u=$(unique_of -q -n 20000 -s 21)
	start_many 2
	local p1 p2 i
	aggpub -q -n 20000 -s 21 -b 20 -c 4 -u "${URLS[1]}" & p1=$!
	aggpub -q -n 20000 -s 21 -b 50 -c 4 -u "${URLS[2]}" & p2=$!
	aggabuse waitmetric "127.0.0.1:${URLS[1]##*:}" agg_events_received_total '>=' 2000
	tests_pgserver restart "$PGDIR" fast
	aggabuse waitmetric "127.0.0.1:${URLS[2]##*:}" agg_events_received_total '>=' 15000
	tests_pgserver restart "$PGDIR" immediate
	# aggpub retries what got 503 and exits 0 once all is acknowledged
	wait "$p1"
	wait "$p2"
	for i in 1 2; do
		kill -0 "${PIDS[$i]}"
		wait_unique "${URLS[$i]}" "$u"
		set -- $(figures "${URLS[$i]}")
		# a commit whose answer was lost is retried: a duplicate then
		[ "$1" -ge 40000 ]
		[ "$1" -eq $(( $2 + $3 )) ]
	done
	[ "$(psql -X -At "$AGGD_DB" -c 'SELECT count(*) FROM agg_events')" = "$u" ]
	# one line when the store went away, one when it came back
	grep -q 'the store is unavailable' "$TMP/aggd1.log"
	grep -q 'the store is back after' "$TMP/aggd1.log"
}

@test "the database away: /healthz and /publish 503 with Retry-After, one log line, back by itself" {
	pg_only
	own_server
	start_many 1
	AGGD_URL=${URLS[1]}
	publish "$(event away 1)" >/dev/null
	[ "$(last_code)" = 200 ]
	tests_pgserver stop "$PGDIR" fast
	for _ in $(seq 200); do
		[ "$(code "$AGGD_URL" /healthz)" = 503 ] && break
		sleep 0.05
	done
	run curl -s -i "$AGGD_URL/healthz"
	[[ "$output" == *"503"* ]]
	[[ "$output" == *'{"status":"unavailable"}'* ]]
	local i
	for i in 1 2 3 4 5; do
		run curl -s -i -X POST -H 'Content-Type: application/json' \
		    --data "$(event away 2)" "$AGGD_URL/publish"
		[[ "$output" == "HTTP/1.1 503"* ]]
		grep -qi '^retry-after: ' <<<"$output"
	done
	run curl -s -i "$AGGD_URL/events?after=0"
	[[ "$output" == "HTTP/1.1 503"* ]]
	[ "$(grep -c 'the store is unavailable' "$TMP/aggd1.log")" = 1 ]
	tests_pgserver start "$PGDIR" >/dev/null
	for _ in $(seq 300); do
		[ "$(code "$AGGD_URL" /healthz)" = 200 ] && break
		sleep 0.05
	done
	[ "$(code "$AGGD_URL" /healthz)" = 200 ]
	publish "$(event away 2)" >/dev/null
	[ "$(last_code)" = 200 ]
	[ "$(figures "$AGGD_URL")" = "2 2 0" ]
	grep -q 'the store is back after' "$TMP/aggd1.log"
}

@test "aggd starts while the database cannot be reached, and serves once it can" {
	pg_only
	own_server
	tests_pgserver stop "$PGDIR" fast
	"$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB" 2>"$TMP/aggd.log" &
	AGGD_PID=$!
	wait_log "listening on"
	AGGD_PORT=$(untimed <"$TMP/aggd.log" |
	    sed -n 's/^aggd: listening on 127.0.0.1:\([0-9]*\), store .*/\1/p')
	AGGD_URL=http://127.0.0.1:$AGGD_PORT
	# the password never shows; the store's URI does
	grep -q "store postgresql://" "$TMP/aggd.log"
	wait_log "the store is unavailable"
	[ "$(code "$AGGD_URL" /healthz)" = 503 ]
	tests_pgserver start "$PGDIR" >/dev/null
	for _ in $(seq 300); do
		[ "$(code "$AGGD_URL" /healthz)" = 200 ] && break
		sleep 0.05
	done
	publish "$(event late 1)" >/dev/null
	[ "$(last_code)" = 200 ]
	[ "$(figures "$AGGD_URL")" = "1 1 0" ]
}

@test "kill -9 of one aggd: the others go on, nothing acknowledged is lost" {
	pg_only
	local u
	u=$(unique_of -q -n 6000 -s 31)
	start_many 2
	aggpub -q -n 6000 -s 31 -b 20 -c 4 -u "${URLS[1]}" >/dev/null 2>&1 &
	aggpub -q -n 6000 -s 31 -b 20 -c 4 -u "${URLS[2]}" &
	local survivor=$!
	aggabuse waitmetric "127.0.0.1:${URLS[1]##*:}" agg_events_received_total '>=' 2000
	kill -9 "${PIDS[1]}"
	wait "$survivor"
	wait_unique "${URLS[2]}" "$u"
	set -- $(figures "${URLS[2]}")
	[ "$1" -eq $(( $2 + $3 )) ]
	[ "$(psql -X -At "$AGGD_DB" -c 'SELECT count(*) FROM agg_events')" = "$u" ]
}
