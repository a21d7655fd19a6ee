#!/usr/bin/env bats
# aggd --backup while aggd serves under load, and aggd --restore: every
# event acknowledged before the backup began is in the restored store,
# once, and dedup goes on from there.

load helper

counts() {
	curl -s "$AGGD_URL/stats" | jq -c '[.received,.unique_processed,.duplicate_dropped]'
}

# identities FILE: "topic event_id" of each NDJSON event in FILE, sorted
identities() {
	jq -r '.topic + " " + .event_id' "$1" | sort
}

@test "a backup taken under load restores every event acknowledged before it, once" {
	start_aggd
	aggpub -q -n 20000 -s 1 -b 200
	[ "$(counts)" = '[20000,16000,4000]' ]
	# publishers still at work while the backup is taken
	aggpub -q -n 400000 -s 2 -b 50 -c 2 2>/dev/null &
	load=$!
	until [ "$(curl -s "$AGGD_URL/stats" | jq .received)" -ge 30000 ]; do sleep 0.05; done
	run aggd --backup "$TMP/backup.db" -d "$AGGD_DB"
	echo "$output"
	[ "$status" = 0 ]
	[[ $output =~ ^aggd:\ backed\ up\ $AGGD_DB\ to\ $TMP/backup.db:\ [0-9]+\ events$ ]]
	[ "$(curl -s "$AGGD_URL/stats" | jq .received)" -gt 30000 ]	# it served meanwhile
	kill "$load"; wait "$load" || true
	stop_aggd
	[ ! -e "$TMP/backup.db.tmp" ]
	[ ! -e "$TMP/backup.db-wal" ]
	# restored into a new place, its folders made
	run aggd --restore "$TMP/backup.db" -d "$TMP/restored/store/dedup.db"
	echo "$output"
	[ "$status" = 0 ]
	AGGD_DB=$TMP/restored/store/dedup.db start_aggd -d "$TMP/restored/store/dedup.db"
	aggevents -a 0 >"$TMP/got"
	# every identity at most once, and the first run's all there
	[ "$(identities "$TMP/got" | uniq -d | wc -l)" = 0 ]
	aggpub -q -o - -n 20000 -s 1 >"$TMP/first"
	[ "$(comm -23 <(identities "$TMP/first" | uniq) <(identities "$TMP/got") | wc -l)" = 0 ]
	stats=$(curl -s "$AGGD_URL/stats")
	[ "$(jq '.received == .unique_processed + .duplicate_dropped' <<<"$stats")" = true ]
	[ "$(jq .unique_processed <<<"$stats")" = "$(wc -l <"$TMP/got")" ]
	[ "$(jq .unique_processed <<<"$stats")" -gt 16000 ]
	# dedup goes on: the first run again is all duplicates
	run aggpub -n 20000 -s 1 -b 500
	[[ $output == *"sent 20000 events: 0 unique, 20000 duplicates"* ]]
}

@test "restore: refused while aggd runs on the store; a file that is no store is refused" {
	start_aggd
	publish "$(event t 1)" >/dev/null
	aggd --backup "$TMP/b.db" -d "$AGGD_DB"
	run aggd --restore "$TMP/b.db" -d "$AGGD_DB"
	[ "$status" = 1 ]
	[ "$output" = "aggd: restore failed: store $AGGD_DB: in use by another aggd: stop it first" ]
	stop_aggd
	echo nonsense >"$TMP/junk.db"
	run aggd --restore "$TMP/junk.db" -d "$AGGD_DB"
	[ "$status" = 1 ]
	[[ $output == "aggd: restore failed: $TMP/junk.db: "* ]]
	sqlite3 "$TMP/other.db" 'CREATE TABLE events(x); CREATE TABLE meta(name, value); CREATE TABLE topics(x); CREATE TABLE topic_runs(x)'
	run aggd --restore "$TMP/other.db" -d "$AGGD_DB"
	[ "$status" = 1 ]
	[ "$output" = "aggd: restore failed: $TMP/other.db: not an agg store" ]
	run aggd --backup "$TMP/x.db" -d "$TMP/missing.db"
	[ "$status" = 1 ]
	# the store itself untouched by all of that
	start_aggd
	[ "$(counts)" = '[1,1,0]' ]
}

@test "restore over a store with a WAL of its own: the old WAL is not replayed into the backup" {
	start_aggd
	publish "[$(event t 1),$(event t 2)]" >/dev/null
	aggd --backup "$TMP/b.db" -d "$AGGD_DB"
	publish "[$(event t 3),$(event t 4),$(event t 5)]" >/dev/null
	kill9_aggd			# leaves its WAL behind
	[ -s "$AGGD_DB-wal" ]
	run aggd --restore "$TMP/b.db" -d "$AGGD_DB"
	[ "$status" = 0 ]
	[ "$output" = "aggd: restored $TMP/b.db to $AGGD_DB: 2 events" ]
	start_aggd
	[ "$(counts)" = '[2,2,0]' ]
	[ "$(sqlite3 "$AGGD_DB" 'PRAGMA integrity_check')" = ok ]
	run publish "[$(event t 2),$(event t 3)]"
	[ "$(jq -c . <<<"$output")" = '{"accepted":2,"unique":1,"duplicates":1}' ]
}
