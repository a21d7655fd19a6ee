#!/usr/bin/env bats
# A damaged store: values changed in a stopped store's rows, the way a
# flipped bit on disk changes them, while SQLite's own integrity_check
# still says ok.  aggd must never crash on them nor answer wrongly: a
# clear error that names the row, a log line, `aggd --check` that finds
# them, `aggd --salvage` that keeps the rest, and dedup that stays exact.

load helper

counts() {
	curl -s "$AGGD_URL/stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]'
}

# A stopped store of 3000 events over 10 topics ($TMP/in.ndjson).
make_store() {
	aggpub -q -o - -n 3000 -D 0 >"$TMP/in.ndjson"
	mkdir -p "$(dirname "$AGGD_DB")"
	aggd -x -l 127.0.0.1:0 -d "$AGGD_DB" <"$TMP/in.ndjson" 2>/dev/null
	[ "$(sqlite3 "$AGGD_DB" 'SELECT count(*) FROM events')" = 3000 ]
}

# Sends all 3000 again; prints the reply.
resend() {
	curl -s -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/in.ndjson" \
	    -w '\n%{http_code}' "$AGGD_URL/publish"
}

integrity_ok() {
	[ "$(sqlite3 "$AGGD_DB" 'PRAGMA integrity_check')" = ok ]
}

@test "damage: a seq out of range in the run index is not trusted: the index is made again, re-sends stay duplicates" {
	make_store
	# the first entry of a run names seq 2^31 - 1, and the run has no
	# sum, as one written by aggd 1.1 would not
	sqlite3 "$AGGD_DB" "UPDATE topic_runs SET entries = CAST(x'FFFFFF7F00000000'
	    || substr(entries, 9, length(entries) / 16 * 16 - 8) AS BLOB) WHERE
	    (topic_id, last_seq) = (SELECT topic_id, min(last_seq) FROM topic_runs)"
	integrity_ok
	run aggd --check -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ "$output" == *"the index: the run of topic"*"is out of order"* ]]
	start_aggd
	grep -q 'store damaged: the run of topic .* is damaged; rebuilding the index from the events' "$TMP/aggd.log"
	[ "$(resend | head -1)" = '{"accepted":3000,"unique":0,"duplicates":3000}' ]
	[ "$(counts)" = '[6000,3000,3000]' ]
	stop_aggd
	run aggd --check -d "$AGGD_DB"
	[ "$status" = 0 ]
}

@test "damage: a changed payload is a 500 that names its seq, never invalid JSON; --check finds it, --salvage keeps the rest" {
	make_store
	sqlite3 "$AGGD_DB" "UPDATE events SET payload = replace(payload, '\"', '#') WHERE seq = 7"
	integrity_ok
	start_aggd
	run get "$AGGD_URL/events?limit=10"
	[ "$(last_code)" = 500 ]
	[[ "$(jq -r .error <<<"$output")" == *"event seq 7 fails its checksum"* ]]
	grep -q 'event seq 7 fails its checksum' "$TMP/aggd.log"
	# pages that do not hold it are served
	[ "$(curl -s "$AGGD_URL/events?after=7&limit=5000" | jq .count)" = 2993 ]
	stop_aggd
	run aggd --check -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ "$output" == *"event seq 7 fails its checksum"* ]]
	[[ "$output" == *"1 problem; aggd(8) RECOVERY says what to do"* ]]
	run aggd --salvage "$TMP/salvaged.db" -d "$AGGD_DB"
	[ "$status" = 0 ]
	[[ "$output" == *"event seq 7 was damaged: dropped"* ]]
	[[ "$output" == *"2999 events kept, 1 dropped"* ]]
	run aggd --check -d "$TMP/salvaged.db"
	[ "$status" = 0 ]
	aggd --restore "$TMP/salvaged.db" -d "$AGGD_DB" 2>/dev/null
	start_aggd
	[ "$(counts)" = '[2999,2999,0]' ]
	[ "$(curl -s "$AGGD_URL/events?limit=5000" | jq '[.count, (.events | map(.seq) | index(7))]' -c)" = '[2999,null]' ]
	# the dropped event, sent again, is stored anew; the rest are duplicates
	[ "$(resend | head -1)" = '{"accepted":3000,"unique":1,"duplicates":2999}' ]
}

@test "damage: a changed event_id is not stored twice: its re-send is a 500 that names the seq" {
	make_store
	sqlite3 "$AGGD_DB" "UPDATE events SET event_id = 'x' || event_id WHERE seq = 5"
	integrity_ok
	start_aggd
	line=$(sed -n 5p "$TMP/in.ndjson")
	run publish "$line"
	[ "$(last_code)" = 500 ]
	[[ "$(jq -r .error <<<"$output")" == *"store damaged: event seq 5 fails its checksum"* ]]
	[ "$(counts)" = '[3000,3000,0]' ]
	# another event is served as before
	run publish "$(sed -n 6p "$TMP/in.ndjson")"
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . <<<"$output")" = '{"accepted":1,"unique":0,"duplicates":1}' ]
}

@test "damage: a changed byte of the fingerprint key: aggd will not start; --salvage makes a new key and dedup holds" {
	make_store
	sqlite3 "$AGGD_DB" "UPDATE meta SET value = CAST(x'00' || substr(value, 2) AS BLOB)
	    WHERE name = 'key' AND substr(value, 1, 1) <> x'00';
	    UPDATE meta SET value = CAST(x'01' || substr(value, 2) AS BLOB)
	    WHERE name = 'key' AND changes() = 0"
	integrity_ok
	run aggd -l 127.0.0.1:0 -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ "$output" == *"is damaged: the fingerprint key fails its checksum (see aggd --check)"* ]]
	run aggd --salvage "$TMP/salvaged.db" -d "$AGGD_DB"
	[ "$status" = 0 ]
	[[ "$output" == *"the fingerprint key was damaged: a new one is made"* ]]
	aggd --restore "$TMP/salvaged.db" -d "$AGGD_DB" 2>/dev/null
	start_aggd
	[ "$(resend | head -1)" = '{"accepted":3000,"unique":0,"duplicates":3000}' ]
}

@test "damage: a changed topic name: aggd will not start and says which topic; a changed counter: --check says so, --salvage counts again" {
	make_store
	name=$(sqlite3 "$AGGD_DB" "SELECT name FROM topics WHERE id = 2")
	sqlite3 "$AGGD_DB" "UPDATE topics SET name = 'x' || name WHERE id = 2"
	integrity_ok
	run aggd -l 127.0.0.1:0 -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ "$output" == *"is damaged: topic 2 fails its checksum"* ]]
	sqlite3 "$AGGD_DB" "UPDATE topics SET name = '$name' WHERE id = 2"
	sqlite3 "$AGGD_DB" "UPDATE topics SET uniq = uniq + 1 WHERE id = 2"
	run aggd --check -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ "$output" == *"topic 2: received "*" is not unique "* ]]
	[[ "$output" == *"topic 2: "*" events stored or expired, its count says "* ]]
	run aggd --salvage "$TMP/salvaged.db" -d "$AGGD_DB"
	[ "$status" = 0 ]
	aggd --restore "$TMP/salvaged.db" -d "$AGGD_DB" 2>/dev/null
	start_aggd
	[ "$(counts)" = '[3000,3000,0]' ]
}

@test "aggd --check: a sound store is exit 0 with one line; a missing one is exit 1" {
	make_store
	run aggd --check -d "$AGGD_DB"
	[ "$status" = 0 ]
	[ "$output" = "aggd: checked $AGGD_DB: 3000 events, 0 problems" ]
	run aggd --check -d "$TMP/none.db"
	[ "$status" = 1 ]
	[[ "$output" == "aggd: check failed: store $TMP/none.db: "* ]]
	run aggd --check --backup x -d "$AGGD_DB"
	[ "$status" = 2 ]
}
