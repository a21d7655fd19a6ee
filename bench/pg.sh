# Sourced by bench/run (after its helpers): aggd on PostgreSQL, next to
# PostgreSQL itself, on a server of its own (tests/pgserver; fsync on).
# BENCH_PG=0 leaves it out; bench/run BIN BENCHDIR pg runs it alone.
#   - 1000-event requests (20% re-sends) through one aggd, 4 connections,
#     against the same bodies written straight from C by the engine's
#     statement (bench/pgdirect): target >= 0.8 x; and against what
#     PostgreSQL does alone with rows it makes itself (pgbench, INSERT ...
#     SELECT FROM generate_series ... ON CONFLICT DO NOTHING, 1000 rows a
#     transaction): on a table with one index and 4 sessions (the form
#     behind the issue's 99k events/s), and on a table shaped like
#     agg_events (three indexes) with 1 session, which is what one head
#     lock allows
#   - three aggd on one database, each with its own publisher: together
#     >= one aggd
#   - single-event requests over 32 connections, against PostgreSQL's own
#     rate of one-row transactions (pgbench, 32 clients, same kind of row)
pg_bench() {
	local pgdir=$work/pg uri pgbase r ref one three t i loads=() pgb pgbench wide narrow
	mkdir -p "$pgdir"; chmod 755 "$work"
	if ! uri=$("$root/tests/pgserver" start "$pgdir" 2>"$work/pg.log"); then
		echo "# no PostgreSQL server for the bench: see $work/pg.log"
		return 0
	fi
	pgbase=${uri%/*}
	pg_db() { psql -X -q "$uri" -c "CREATE DATABASE $1" && echo "$pgbase/$1"; }
	echo "# PostgreSQL ($(psql -X -At "$uri" -c 'SHOW server_version'), on this machine's disk, fsync on)"

	pgbench=$(echo /usr/lib/postgresql/*/bin/pgbench)
	t=$(pg_db alone)
	psql -X -q "$t" -c "CREATE TABLE one_index (event_id text PRIMARY KEY, payload text)" \
	    -c "CREATE TABLE agg_shaped (seq bigserial PRIMARY KEY, topic_id bigint, event_id text,
	        ts text, source text, payload text, received_ms bigint, UNIQUE (topic_id, event_id))" \
	    -c "CREATE INDEX ON agg_shaped (topic_id, seq)"
	printf '%s\n' "INSERT INTO one_index SELECT md5(random()::text) || md5(random()::text), repeat('x', 120) FROM generate_series(1, 1000) ON CONFLICT DO NOTHING;" >"$work/one_index.sql"
	printf '%s\n' "INSERT INTO agg_shaped (topic_id, event_id, ts, source, payload, received_ms) SELECT (random() * 10)::int, md5(random()::text) || md5(random()::text), '2025-10-21T10:00:00Z', 'checkout-1', repeat('x', 120), 1 FROM generate_series(1, 1000) ON CONFLICT DO NOTHING;" >"$work/agg_shaped.sql"
	pg_alone() {	# pg_alone SCRIPT SESSIONS: events/s
		"$pgbench" -n -c "$2" -j 2 -T 10 -f "$work/$1.sql" "$t" 2>/dev/null |
		    awk '/^tps = / { printf "events_per_s=%.0f", $3 * 1000 }'
	}
	wide=$(pg_alone one_index 4)
	line "PG alone: 1 index, 4 sessions" "$wide" - "reference (the 99k figure's form)"
	narrow=$(pg_alone agg_shaped 1)
	line "PG alone: agg's 3 indexes, 1 session" "$narrow" - "reference (one commit at a time)"

	"$tools/loadgen" -w "$work/b1000" -b 1000 -n 300 -s 301 -D 0.2
	ref=$("$tools/pgdirect" "$(pg_db direct)" "$work/b1000") || return 1
	line "pgdirect (C, no aggd), 1000 ev/tx" "$ref" - reference
	start pg1 -d "$(pg_db one)"
	one=$("$tools/loadgen" -a 127.0.0.1:$port -s 301 -D 0.2 -b 1000 -n 300 -c 4)
	row "aggd on PG, 1000 ev/req, 4 conns" "$one" \
	    "$(awk -v a="$(field events_per_s "$one")" -v b="$(field events_per_s "$ref")" \
	    -v w="$(field events_per_s "$wide")" -v n="$(field events_per_s "$narrow")" \
	    'BEGIN { printf "%.2f x pgdirect (>= 0.8 %s); %.2f x PG alone 1 index 4 sessions (>= 1 %s); %.2f x PG alone 3 indexes 1 session", a / b, (a >= 0.8 * b) ? "ok" : "MISSED", a / w, (a >= w) ? "ok" : "MISSED", a / n }')"
	stop

	t=$(pg_db three)
	for i in 1 2 3; do
		start pg3_$i -d "$t"
		pids3[$i]=$pid ports3[$i]=$port
	done
	pid=
	t0=$(date +%s%N)
	for i in 1 2 3; do
		"$tools/loadgen" -a 127.0.0.1:${ports3[$i]} -s $((310 + i)) -D 0.2 \
		    -b 1000 -n 100 -c 4 >"$work/three$i" &
		loads+=($!)
	done
	wait "${loads[@]}"
	t1=$(date +%s%N)
	three=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", 300000 / (ns / 1e9) }')
	printf '%-34s %10s %9s %8s %8s %8s  %s\n' "3 aggd on one PG, together" "$three" - \
	    "$(field p50_ms "$(cat "$work/three1")")" "$(field p99_ms "$(cat "$work/three1")")" \
	    "$(for i in 1 2 3; do awk '/VmHWM/ {printf "%.0f/", $2 / 1024}' /proc/${pids3[$i]}/status; done)" \
	    "$(awk -v a="$three" -v b="$(field events_per_s "$one")" \
	    'BEGIN { printf "%.2f x one aggd (>= 1 %s)", a / b, (a >= b) ? "ok" : "MISSED" }')"
	for i in 1 2 3; do pid=${pids3[$i]}; stop; done

	start pg32 -d "$(pg_db single)"
	r=$("$tools/loadgen" -a 127.0.0.1:$port -s 320 -c 32 -b 1 -n 20000)
	psql -X -q "$pgbase/single" -c "CREATE TABLE one_row (event_id text PRIMARY KEY, payload text)"
	printf '%s\n' "INSERT INTO one_row VALUES (md5(random()::text) || md5(random()::text), repeat('x', 200)) ON CONFLICT DO NOTHING;" >"$work/one.sql"
	pgb=$("$pgbench" -n -c 32 -j 2 -T 10 -f "$work/one.sql" \
	    "$pgbase/single" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	row "aggd on PG, 1 ev/req, 32 conns" "$r" \
	    "$(awk -v a="$(field req_per_s "$r")" -v b="$pgb" \
	    'BEGIN { printf "%.2f x PostgreSQL one-row transactions (pgbench, 32 clients: %.0f tps)", a / b, b }')"
	stop
	"$root/tests/pgserver" stop "$pgdir"
}
