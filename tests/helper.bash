# tests/helper.bash - loaded by every bats file.
#
# start_aggd [ARGS...]   starts bin/aggd on a free 127.0.0.1 port with a
#                        store in the test's temp dir; sets AGGD_PID,
#                        AGGD_PORT, AGGD_URL (base), AGGREGATOR_URL, AGGD_DB
# stop_aggd              SIGTERM and wait; fails if it does not exit 0
# kill9_aggd             SIGKILL and wait
# publish BODY [CURLARGS] POST /publish; prints the response body
# publish_ndjson BODY     the same as application/x-ndjson
# get URL [CURLARGS]     GET; prints the response body
# last_code              the HTTP status of the last publish or get (they
#                        run in $(...) subshells, so it is kept in a file)
# raw_http REQUEST       bytes to aggd as written; prints all it answers
# fake_aggd RESPONSE     a stand-in server with one canned answer (FAKE_URL)
# aggabuse ARGS          tests/tools/aggabuse.c, built once per file
# wait_metric NAME OP N  until aggd's /metrics shows NAME OP (>= or <=) N
# wait_log TEXT          until aggd's log has a line containing TEXT
# untimed                aggd's log lines on stdin without their time
# Tests wait for states (these), never for a time: the machine may be busy.
# AGG_BIN selects the binaries (tests/run sets it); AGG_VALGRIND=1 runs
# aggd under valgrind.

AGG_BIN=${AGG_BIN:-$BATS_TEST_DIRNAME/../bin}
export PATH="$AGG_BIN:$PATH"

setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/agg.XXXXXX")
	AGGD_DB=$TMP/store/dedup.db
	AGGD_PID=
	[ -z "${AGG_PG:-}" ] || pg_database
}

# pg_database: AGGD_DB is a new, empty database on the test server whose
# URI is in AGG_PG (tests/run starts it with tests/pgserver)
pg_database() {
	local name=agg_${TMP##*.}
	name=$(tr 'A-Z' 'a-z' <<<"$name")
	psql -q -X -v ON_ERROR_STOP=1 "$AGG_PG" -c "CREATE DATABASE $name" \
	    >/dev/null || return 1
	AGGD_DB=${AGG_PG%/*}/$name
}

# pg_only / sqlite_only: skip a test that concerns one engine's files
pg_only() {
	[ -n "${AGG_PG:-}" ] || skip "a PostgreSQL store's test"
}
sqlite_only() {
	[ -z "${AGG_PG:-}" ] || skip "an SQLite file's test"
}

teardown() {
	if [ -n "${AGGD_PID:-}" ] && kill -0 "$AGGD_PID" 2>/dev/null; then
		kill -9 "$AGGD_PID" 2>/dev/null
		wait "$AGGD_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}

# Starts aggd; stdin is /dev/null unless AGGD_STDIN names a file; its log
# is $TMP/aggd.log unless AGGD_LOG names another.
start_aggd() {
	local log=${AGGD_LOG:-$TMP/aggd.log} i
	: >"$log"
	if [ "${AGG_VALGRIND:-}" = 1 ]; then
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		    --error-exitcode=99 "$AGG_BIN/aggd" -l 127.0.0.1:0 \
		    -d "$AGGD_DB" "$@" <"${AGGD_STDIN:-/dev/null}" 2>>"$log" &
	else
		"$AGG_BIN/aggd" -l 127.0.0.1:0 -d "$AGGD_DB" "$@" \
		    <"${AGGD_STDIN:-/dev/null}" 2>>"$log" &
	fi
	AGGD_PID=$!
	for i in $(seq 1 200); do
		AGGD_PORT=$(untimed <"$log" |
		    sed -n 's/^aggd: listening on 127.0.0.1:\([0-9]*\), store .*/\1/p')
		[ -n "$AGGD_PORT" ] && break
		kill -0 "$AGGD_PID" 2>/dev/null || { cat "$log" >&2; return 1; }
		sleep 0.05
	done
	[ -n "$AGGD_PORT" ] || { cat "$log" >&2; return 1; }
	AGGD_URL=http://127.0.0.1:$AGGD_PORT
	export AGGREGATOR_URL=$AGGD_URL/publish
	# The port is bound before the store loads; wait until it answers.
	for i in $(seq 1 200); do
		curl -fs "$AGGD_URL/healthz" >/dev/null && return 0
		sleep 0.05
	done
	cat "$log" >&2
	return 1
}

# The contract gives aggd 10 s to stop; a hang fails the test, never the run.
stop_aggd() {
	local rc=0 i
	kill -TERM "$AGGD_PID"
	for i in $(seq 1 120); do
		kill -0 "$AGGD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$AGGD_PID" 2>/dev/null; then
		echo "aggd did not stop within 12 s of SIGTERM" >&2
		kill -9 "$AGGD_PID"
	fi
	wait "$AGGD_PID" || rc=$?
	AGGD_PID=
	[ "$rc" -eq 0 ] || { echo "aggd exited $rc" >&2; cat "$TMP/aggd.log" >&2; }
	return "$rc"
}

kill9_aggd() {
	kill -9 "$AGGD_PID"
	wait "$AGGD_PID" 2>/dev/null || true
	AGGD_PID=
}

publish() {
	local body=$1
	shift
	curl -s -o "$TMP/resp" -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' --data-binary "$body" "$@" \
	    "$AGGD_URL/publish" >"$TMP/code"
	cat "$TMP/resp"
}

publish_ndjson() {
	curl -s -o "$TMP/resp" -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/x-ndjson' --data-binary "$1" \
	    "$AGGD_URL/publish" >"$TMP/code"
	cat "$TMP/resp"
}

get() {
	curl -s -o "$TMP/resp" -w '%{http_code}' "$@" >"$TMP/code"
	cat "$TMP/resp"
}

# fake_aggd RESPONSE: a server on a free port that answers every request
# for 10 s with RESPONSE (a printf format, written as is); sets FAKE_URL
fake_aggd() {
	local i
	# emptied here, not only by the redirection in the child, which may
	# come late: an earlier fake's port must never be read as this one's
	: >"$TMP/fake.port"
	# shellcheck disable=SC2059
	aggabuse serve 127.0.0.1:0 10 "$(printf "$1")" >"$TMP/fake.port" &
	FAKE_PID=$!
	for i in $(seq 600); do
		grep -qx '[0-9][0-9]*' "$TMP/fake.port" && break
		sleep 0.05
	done
	FAKE_URL=http://127.0.0.1:$(cat "$TMP/fake.port")
}

# stop_fake: ends the fake server, which may already have served its
# connections and gone
stop_fake() {
	kill "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" 2>/dev/null || true
}

# raw_http REQUEST: sends REQUEST (a printf format) on one connection and
# prints what comes back until aggd closes it, without carriage returns
raw_http() {
	local sock
	exec {sock}<>"/dev/tcp/127.0.0.1/$AGGD_PORT"
	# shellcheck disable=SC2059
	printf "$1" >&"$sock"
	timeout 5 cat <&"$sock" | tr -d '\r'
	exec {sock}<&-
}

last_code() {
	cat "$TMP/code"
}

# event TOPIC ID [PAYLOAD]: one valid event as JSON
event() {
	printf '{"topic":"%s","event_id":"%s","timestamp":"2025-10-21T10:00:00Z","source":"test","payload":%s}' \
	    "$1" "$2" "${3:-{\}}"
}

aggabuse() {
	local bin=$BATS_FILE_TMPDIR/aggabuse
	[ -x "$bin" ] || cc -O2 -o "$bin" "$BATS_TEST_DIRNAME/tools/aggabuse.c" ||
	    return 1
	"$bin" "$@"
}

wait_metric() {
	aggabuse waitmetric "127.0.0.1:$AGGD_PORT" "$1" "$2" "$3"
}

wait_log() {
	local i
	for i in $(seq 400); do
		grep -qF -- "$1" "$TMP/aggd.log" && return 0
		sleep 0.05
	done
	echo "aggd's log never said: $1" >&2
	cat "$TMP/aggd.log" >&2
	return 1
}

untimed() {
	sed -E 's/^(aggd: )[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z /\1/'
}
