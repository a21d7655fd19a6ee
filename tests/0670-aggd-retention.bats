#!/usr/bin/env bats
# Retention (--retain, --max-store): payloads leave oldest first, the
# identities stay, so a re-sent expired event is still a duplicate.
# Runs on SQLite, and again on PostgreSQL under tests/run.

load helper

# figures: received unique duplicates stored expired
figures() {
	curl -s "$AGGD_URL/stats" |
	    jq -r '"\(.received) \(.unique_processed) \(.duplicate_dropped) \(.stored) \(.expired)"'
}

# pages_count: the events /events returns over all pages
pages_count() {
	local after=0 n=0 page
	while :; do
		page=$(curl -s "$AGGD_URL/events?after=$after&limit=1000")
		n=$((n + $(jq .count <<<"$page")))
		after=$(jq .next <<<"$page")
		[ "$after" != null ] || break
	done
	echo "$n"
}

# settled: U == stored + expired, and the pages hold exactly stored, read
# between two looks at the figures that agree (a step of retention may
# still run: then it looks again)
settled() {
	local before after pages i
	for i in $(seq 100); do
		before=$(figures)
		pages=$(pages_count)
		after=$(figures)
		[ "$before" = "$after" ] && break
	done
	set -- $after
	[ "$2" -eq $(($4 + $5)) ] || { echo "U $2 != stored $4 + expired $5"; return 1; }
	[ "$pages" -eq "$4" ] || { echo "pages $pages != stored $4"; return 1; }
}

@test "--retain: events leave, /stats and /events say so, a re-send is a duplicate, also after a restart" {
	aggpub -q -n 1000 -s 41 -D 0 -o - >"$TMP/a.ndjson"
	start_aggd --retain 1s
	curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/a.ndjson" \
	    "$AGGD_URL/publish" >/dev/null
	wait_metric agg_events_expired_total '>=' 1000
	[ "$(figures)" = "1000 1000 0 0 1000" ]
	settled
	page=$(curl -s "$AGGD_URL/events?limit=10")
	[ "$(jq -c '[.total, .count, .expired_through]' <<<"$page")" = '[0,0,1000]' ]
	# per topic too
	[ "$(curl -s "$AGGD_URL/stats" | jq '[.by_topic[] | .unique_processed == .stored + .expired] | all')" = true ]
	# the same 1000 again: every one a duplicate, nothing stored
	[ "$(curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/a.ndjson" \
	    "$AGGD_URL/publish")" = '{"accepted":1000,"unique":0,"duplicates":1000}' ]
	stop_aggd
	# without retention now: still duplicates, the expired figures kept
	start_aggd
	[ "$(figures)" = "2000 1000 1000 0 1000" ]
	[ "$(curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/a.ndjson" \
	    "$AGGD_URL/publish")" = '{"accepted":1000,"unique":0,"duplicates":1000}' ]
	# a new event takes the next seq: seqs are never given twice
	publish "$(event fresh 1)" >/dev/null
	[ "$(curl -s "$AGGD_URL/events?limit=1" | jq '.events[0].seq')" = 1001 ]
	settled
	stop_aggd
}

@test "--retain given at a later start removes the older events in the background, while serving" {
	start_aggd
	aggpub -q -n 3000 -s 42 -D 0 -b 500
	[ "$(figures)" = "3000 3000 0 3000 0" ]
	stop_aggd
	start_aggd --retain 1s
	# serving at once; the removal goes on behind
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$AGGD_URL/healthz")" = 200 ]
	wait_metric agg_events_expired_total '>=' 3000
	[ "$(figures)" = "3000 3000 0 0 3000" ]
	settled
	stop_aggd
}

@test "--max-store: the oldest events leave first, the store stays within 1.25 x the size" {
	local pad i
	pad=$(head -c 2000 /dev/zero | tr '\0' x)
	start_aggd --max-store 2M
	for i in $(seq 40); do
		for j in $(seq 100); do
			event "t$((j % 3))" "e$i-$j" "{\"p\":\"$pad\"}"
			echo
		done >"$TMP/b.ndjson"
		curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/b.ndjson" \
		    "$AGGD_URL/publish" >/dev/null
	done
	# 4000 events of 2 KB: 8 MB sent into a 2 MiB store, 200 KB a request
	wait_metric agg_events_expired_total '>=' 2000
	settled
	# what is left is the newest: every seq above expired_through
	# (a step committed but not yet synced shows in the rows first)
	for _ in $(seq 100); do
		before=$(figures)
		page=$(curl -s "$AGGD_URL/events?limit=1")
		through=$(jq .expired_through <<<"$page")
		[ "$before" = "$(figures)" ] &&
		    [ "$(jq '.events[0].seq' <<<"$page")" -eq $((through + 1)) ] && break
	done
	set -- $before
	[ "$2" = 4000 ]
	[ "$(jq '.events[0].seq' <<<"$page")" -eq $((through + 1)) ]
	[ $((4000 - through)) -eq "$4" ]
	stop_aggd
	if [ -n "${AGG_PG:-}" ]; then
		# PostgreSQL: the size is the stored fields' bytes (aggd(8))
		bytes=$(psql -X -At "$AGGD_DB" -c "SELECT stored_bytes FROM agg_head")
		echo "stored fields $bytes bytes"
		[ "$bytes" -le $((2 * 1048576)) ]
	else
		size=$(stat -c %s "$AGGD_DB")
		echo "store file $size bytes"
		[ "$size" -le $((2 * 1048576 * 5 / 4)) ]
	fi
	# expired re-sends are duplicates
	start_aggd
	[ "$(curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/b.ndjson" \
	    "$AGGD_URL/publish" | jq .duplicates)" = 100 ]
	stop_aggd
	if [ -z "${AGG_PG:-}" ]; then
		run aggd --check -d "$AGGD_DB"
		[ "$status" = 0 ]
	fi
}

@test "kill -9 while events are being removed: nothing kept is lost, nothing counted twice" {
	start_aggd
	aggpub -q -n 20000 -s 43 -D 0 -b 1000 -o - >"$TMP/c.ndjson"
	curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/c.ndjson" \
	    "$AGGD_URL/publish" >/dev/null
	stop_aggd
	start_aggd --retain 1s
	wait_metric agg_events_expired_total '>=' 1
	kill9_aggd
	start_aggd
	set -- $(figures)
	[ "$1" = 20000 ] && [ "$2" = 20000 ]
	echo "after the kill: stored $4, expired $5"
	settled
	# every identity, stored or expired, is still known
	[ "$(curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/c.ndjson" \
	    "$AGGD_URL/publish")" = '{"accepted":20000,"unique":0,"duplicates":20000}' ]
	stop_aggd
	if [ -z "${AGG_PG:-}" ]; then
		run aggd --check -d "$AGGD_DB"
		[ "$status" = 0 ]
	fi
}

@test "aggevents -f says when retention removed events it had not read, and goes on" {
	start_aggd --retain 1s
	aggpub -q -n 200 -s 44 -D 0
	wait_metric agg_events_expired_total '>=' 200
	aggevents -f -a 0 -u "$AGGD_URL" >"$TMP/out" 2>"$TMP/err" &
	local follower=$!
	publish "$(event later 1)" >/dev/null
	for _ in $(seq 200); do
		grep -q '"event_id":"1"' "$TMP/out" && break
		sleep 0.05
	done
	kill "$follower"
	wait "$follower" || true
	grep -q '"topic":"later"' "$TMP/out"
	grep -q 'retention removed the events up to seq 200 before they were read' "$TMP/err"
	[ "$(grep -c retention "$TMP/err")" = 1 ]
	stop_aggd
}

@test "--retain and --max-store: bad values are exit 2 with one line that says what is wanted" {
	run aggd --retain 30
	[ "$status" = 2 ]
	[ "$output" = "aggd: --retain: not a duration such as 45s, 30m, 12h or 90d: 30; try 'aggd --help'" ]
	run aggd --retain 1w
	[ "$status" = 2 ]
	AGG_RETAIN=soon run aggd
	[ "$status" = 2 ]
	[[ "$output" == "aggd: AGG_RETAIN: not a duration"* ]]
	run aggd --max-store 10X
	[ "$status" = 2 ]
	[ "$output" = "aggd: --max-store: not a size of 1M or more, such as 500M or 10G: 10X; try 'aggd --help'" ]
	run aggd --max-store 4K
	[ "$status" = 2 ]
	AGG_MAX_STORE=lots run aggd
	[ "$status" = 2 ]
}

@test "PostgreSQL: a version 1 database is converted at start, counts and events kept" {
	pg_only
	start_aggd
	aggpub -q -n 500 -s 45 -D 0.2
	stop_aggd
	# back to what aggd 1.2 made
	psql -X -q -v ON_ERROR_STOP=1 "$AGGD_DB" \
	    -c "ALTER TABLE agg_head DROP COLUMN expired_through, DROP COLUMN stored_bytes" \
	    -c "ALTER TABLE agg_counts DROP COLUMN expired" \
	    -c "UPDATE agg_schema SET version = 1"
	start_aggd --retain 1s
	[ "$(psql -X -At "$AGGD_DB" -c 'SELECT max(version) FROM agg_schema')" = 2 ]
	wait_metric agg_events_expired_total '>=' 400
	[ "$(figures)" = "500 400 100 0 400" ]
	stop_aggd
}
