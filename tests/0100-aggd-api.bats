#!/usr/bin/env bats
# aggd's HTTP API, endpoint by endpoint, against a real aggd.

load helper

@test "healthz answers ok without a token" {
	start_aggd
	run get "$AGGD_URL/healthz"
	[ "$output" = '{"status":"ok"}' ]
	[ "$(last_code)" = 200 ]
}

@test "one event is stored, the same identity again is a duplicate" {
	start_aggd
	run publish "$(event orders a1 '{"amount":12.5}')"
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . <<<"$output")" = '{"accepted":1,"unique":1,"duplicates":0}' ]
	# Same identity, other fields differ: still a duplicate, first copy kept.
	run publish '{"topic":"orders","event_id":"a1","timestamp":"2026-01-01T00:00:00Z","source":"other","payload":{"amount":99}}'
	[ "$(jq -c . <<<"$output")" = '{"accepted":1,"unique":0,"duplicates":1}' ]
	run get "$AGGD_URL/events?topic=orders"
	[ "$(jq -r '.events[0].source' <<<"$output")" = test ]
	[ "$(jq -r '.events[0].payload.amount' <<<"$output")" = 12.5 ]
	[ "$(jq -r '.total' <<<"$output")" = 1 ]
}

@test "array, events wrapper and NDJSON bodies; duplicates inside a request count" {
	start_aggd
	run publish "[$(event t 1),$(event t 2),$(event t 1)]"
	[ "$(jq -c . <<<"$output")" = '{"accepted":3,"unique":2,"duplicates":1}' ]
	run publish "{\"events\":[$(event t 3),$(event t 2)]}"
	[ "$(jq -c . <<<"$output")" = '{"accepted":2,"unique":1,"duplicates":1}' ]
	run publish_ndjson "$(event u 1)
$(event u 2)

$(event t 3)
"
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . <<<"$output")" = '{"accepted":3,"unique":2,"duplicates":1}' ]
	run get "$AGGD_URL/stats"
	[ "$(jq -c '[.received,.unique_processed,.duplicate_dropped]' <<<"$output")" = '[8,5,3]' ]
	[ "$(jq -c .topics <<<"$output")" = '["t","u"]' ]
}

@test "an empty batch is 200 with zeros" {
	start_aggd
	run publish '[]'
	[ "$(last_code)" = 200 ]
	[ "$(jq -c . <<<"$output")" = '{"accepted":0,"unique":0,"duplicates":0}' ]
	run publish '{"events":[]}'
	[ "$(jq -c . <<<"$output")" = '{"accepted":0,"unique":0,"duplicates":0}' ]
	# an event that also holds an "events" array: one event, or a batch?
	ev=$(event t 1)
	run publish "${ev%\}},\"events\":[]}"
	[ "$(last_code)" = 422 ]
	[ "$(jq -r '.detail[0].field' <<<"$output")" = events ]
	[ "$(curl -s "$AGGD_URL/stats" | jq .received)" = 0 ]
}

@test "422 names each offending event and field; nothing of the request is stored" {
	start_aggd
	run publish "[$(event t ok1),{\"topic\":\"t\",\"event_id\":\"\",\"timestamp\":\"2025-02-30T00:00:00Z\",\"source\":\"s\",\"payload\":[]},$(event t ok2),7]"
	[ "$(last_code)" = 422 ]
	[ "$(jq -c '[.detail[] | [.index, .field, .msg]]' <<<"$output")" = \
	  '[[1,"event_id","must not be empty"],[1,"timestamp","must be an RFC 3339 date-time"],[1,"payload","must be a JSON object"],[3,null,"must be a JSON object"]]' ]
	[ "$(jq -r '.error | type' <<<"$output")" = string ]
	run get "$AGGD_URL/stats"
	[ "$(jq -c '[.received,.unique_processed,.duplicate_dropped]' <<<"$output")" = '[0,0,0]' ]
}

@test "every event rule: missing, wrong type, lengths, control characters" {
	start_aggd
	long=$(printf 'x%.0s' $(seq 256))
	ok255=$(printf 'y%.0s' $(seq 255))
	run publish "{\"topic\":\"t\",\"event_id\":\"$long\",\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":5,\"payload\":{}}"
	[ "$(last_code)" = 422 ]
	[ "$(jq -c '[.detail[] | [.field, .msg]]' <<<"$output")" = '[["event_id","longer than 255 bytes"],["source","must be a string"]]' ]
	run publish '{"topic":"a\u0000b","event_id":"1","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{}}'
	[ "$(jq -r '.detail[0].msg' <<<"$output")" = "contains a control character" ]
	run publish '{"event_id":"1","timestamp":"2025-10-21T10:00:00.123+07:00","source":"s","payload":{}}'
	[ "$(jq -c '.detail' <<<"$output")" = '[{"index":0,"field":"topic","msg":"missing"}]' ]
	run publish "$(event t "$ok255")"
	[ "$(last_code)" = 200 ]
}

@test "400 for bad JSON, invalid UTF-8, lone surrogates, deep nesting, bad NDJSON line" {
	start_aggd
	run publish '{"topic": '
	[ "$(last_code)" = 400 ]
	[[ "$(jq -r .error <<<"$output")" == *"invalid JSON"* ]]
	run publish "$(printf '{"topic":"\xff","event_id":"1"}')"
	[ "$(last_code)" = 400 ]
	[[ "$(jq -r .error <<<"$output")" == *"UTF-8"* ]]
	run publish '{"topic":"\ud800","event_id":"1","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{}}'
	[ "$(last_code)" = 400 ]
	[[ "$(jq -r .error <<<"$output")" == *"surrogate"* ]]
	deep=$(printf '[%.0s' $(seq 100))
	run publish "{\"topic\":\"t\",\"event_id\":\"1\",\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":\"s\",\"payload\":{\"a\":$deep}"
	[ "$(last_code)" = 400 ]
	[[ "$(jq -r .error <<<"$output")" == *"64"* ]]
	run publish_ndjson "$(event t 1)
{oops
$(event t 2)"
	[ "$(last_code)" = 400 ]
	[ "$(jq -r .line <<<"$output")" = 2 ]
	[[ "$(jq -r .error <<<"$output")" == "line 2:"* ]]
	run publish "{\"events\":[$(event t 1)],\"events\":[$(event t 2)]}"
	[ "$(last_code)" = 400 ]
	[[ "$(jq -r .error <<<"$output")" == *'a second "events" member'* ]]
	run get "$AGGD_URL/stats"
	[ "$(jq -r .received <<<"$output")" = 0 ]
}

@test "payload comes back as the same JSON value; int64 exact, other numbers as doubles" {
	start_aggd
	run publish '{"topic":"n","event_id":"1","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{"big":9223372036854775807,"neg":-9223372036854775808,"over":18446744073709551616,"f":0.1,"e":1E2,"s":"\u00e9\n\"","nested":{"a":[1,{"b":null},true]},"u":"日本","z":-0.0,"iz":-0}}'
	[ "$(last_code)" = 200 ]
	run get "$AGGD_URL/events?topic=n"
	# the raw bytes: canonical JSON, integers in range exact, others the
	# shortest text of the nearest double
	[[ "$output" == *'"payload":{"big":9223372036854775807,"neg":-9223372036854775808,"over":1.8446744073709552e+19,"f":0.1,"e":100,"s":"é\n\"","nested":{"a":[1,{"b":null},true]},"u":"日本","z":-0.0,"iz":0}'* ]]
}

@test "GET /events pages in seq order; stats agree with the pages" {
	start_aggd
	body="["
	for i in $(seq 1 250); do body+="$(event "t$((i % 3))" "id$i"),"; done
	body+="$(event t0 id3)]"
	run publish "$body"
	[ "$(jq -c . <<<"$output")" = '{"accepted":251,"unique":250,"duplicates":1}' ]
	after=0 seen=0 prev=0
	while :; do
		page=$(curl -s "$AGGD_URL/events?after=$after&limit=40")
		n=$(jq '.count' <<<"$page")
		[ "$(jq '.total' <<<"$page")" = 250 ]
		for s in $(jq '.events[].seq' <<<"$page"); do
			[ "$s" -gt "$prev" ]
			prev=$s
		done
		seen=$((seen + n))
		next=$(jq '.next' <<<"$page")
		[ "$next" = null ] && break
		after=$next
	done
	[ "$seen" = 250 ]
	run get "$AGGD_URL/events?topic=t1&limit=1000"
	[ "$(jq '.count' <<<"$output")" = 84 ]
	[ "$(jq '.total' <<<"$output")" = 84 ]
	[ "$(jq '[.events[].topic] | unique' -c <<<"$output")" = '["t1"]' ]
	[ "$(jq '.next' <<<"$output")" = null ]
	run get "$AGGD_URL/events?topic=nope"
	[ "$(jq -c '[.total,.count,.next]' <<<"$output")" = '[0,0,null]' ]
}

@test "GET /events: a page ends past 4 MiB, and next leads to the rest" {
	start_aggd
	big=$(head -c 2200000 /dev/zero | tr '\0' x)
	printf '[%s,%s,%s]' "$(event fat 1 "{\"p\":\"$big\"}")" \
	    "$(event fat 2 "{\"p\":\"$big\"}")" "$(event fat 3 "{\"p\":\"$big\"}")" >"$TMP/body"
	run publish @"$TMP/body"
	[ "$(last_code)" = 200 ]
	run get "$AGGD_URL/events?topic=fat"
	[ "$(jq -c '[.total,.count,.next,[.events[].event_id]]' <<<"$output")" = '[3,2,2,["1","2"]]' ]
	[ "$(jq -r '.events[1].payload.p | length' <<<"$output")" = 2200000 ]
	run get "$AGGD_URL/events?topic=fat&after=2"
	[ "$(jq -c '[.count,.next,[.events[].event_id]]' <<<"$output")" = '[1,null,["3"]]' ]
	run get "$AGGD_URL/events"
	[ "$(jq -c '[.count,.next]' <<<"$output")" = '[2,2]' ]
}

@test "GET /events rejects bad parameters with 400" {
	start_aggd
	for q in 'after=-1' 'after=x' 'limit=0' 'limit=abc' 'wait=-2' 'topic=' 'after=%zz' \
	    'topic=%ff' 'topic=a%01b' 'topic=%ed%a0%80'; do
		run get "$AGGD_URL/events?$q"
		[ "$(last_code)" = 400 ] || { echo "query $q: $(last_code)"; false; }
		[ "$(jq -r '.error|type' <<<"$output")" = string ]
	done
	run get "$AGGD_URL/events?limit=999999"
	[ "$(last_code)" = 200 ]
}

@test "long polling: wait returns as soon as an event arrives" {
	start_aggd
	curl -s "$AGGD_URL/events?topic=lp&wait=20" >"$TMP/lp" &
	poller=$!
	wait_metric agg_http_long_polls ">=" 1
	start=$(date +%s%N)
	run publish "$(event lp x1)"
	wait "$poller"
	end=$(date +%s%N)
	[ "$(jq -r '.events[0].event_id' <"$TMP/lp")" = x1 ]
	[ $(( (end - start) / 1000000 )) -lt 3000 ]
	# with nothing new, it answers empty after the wait
	run get "$AGGD_URL/events?topic=lp&after=1&wait=1"
	[ "$(jq -c '[.count,.next]' <<<"$output")" = '[0,null]' ]
}

@test "metrics: Prometheus text with counters equal to /stats and health gauges" {
	start_aggd
	publish "[$(event m 1),$(event m 1),$(event m 2)]" >/dev/null
	run get "$AGGD_URL/metrics"
	[ "$(last_code)" = 200 ]
	grep -qx 'agg_events_received_total 3' <<<"$output"
	grep -qx 'agg_events_unique_total 2' <<<"$output"
	grep -qx 'agg_events_duplicate_total 1' <<<"$output"
	grep -q '^agg_ingest_queue_depth ' <<<"$output"
	grep -q '^agg_http_connections_open ' <<<"$output"
	grep -q '^agg_commit_duration_seconds_count [1-9]' <<<"$output"
	# durable by default: the answer waited for an fdatasync of the WAL
	# (PostgreSQL's commit is durable itself: there is no WAL of aggd's)
	if [ -z "${AGG_PG:-}" ]; then
		grep -q '^agg_commit_wal_syncs_total [1-9]' <<<"$output"
		grep -Eq '^agg_commit_wal_sync_seconds_total 0\.0*[1-9]' <<<"$output"
	fi
	curl -sI "$AGGD_URL/metrics" -X GET | grep -qi '^content-type: text/plain'
}

@test "unknown path 404, wrong method 405 with Allow" {
	start_aggd
	run get "$AGGD_URL/nope"
	[ "$(last_code)" = 404 ]
	run get -X DELETE "$AGGD_URL/publish"
	[ "$(last_code)" = 405 ]
	[ "$(curl -s -D - -o /dev/null -X POST "$AGGD_URL/stats" | tr -d '\r' | grep -i '^allow:')" = 'Allow: GET, HEAD' ]
	curl -s -D - -o /dev/null "$AGGD_URL/publish" | grep -qi '^allow: POST'
}

@test "HEAD: the headers of GET without its body; the connection goes on" {
	start_aggd
	out=$(raw_http 'HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
	echo "$out"
	[ "$(grep -c '^HTTP/1.1 200 OK$' <<<"$out")" = 2 ]
	[ "$(grep -c '^Content-Length: 16$' <<<"$out")" = 2 ]
	# one body, after the second response's head
	[ "$(grep -c status <<<"$out")" = 1 ]
	[ "$(tail -n 1 <<<"$out")" = '{"status":"ok"}' ]
	[ "$(curl -s -I -o /dev/null -w '%{http_code}' "$AGGD_URL/stats")" = 200 ]
	run curl -s -I -o /dev/null -w '%{http_code}' -X HEAD "$AGGD_URL/publish"
	[ "$output" = 405 ]
}

@test "HTTP/1.0 with keep-alive: the reply says it stays open, and it does" {
	start_aggd
	out=$(raw_http 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n')
	echo "$out"
	[ "$(grep -c '^HTTP/1.1 200 OK$' <<<"$out")" = 2 ]
	[ "$(grep -c '^Connection: keep-alive$' <<<"$out")" = 1 ]
	[ "$(grep -c '^Connection: close$' <<<"$out")" = 1 ]
}

@test "HTTP/1.1: one Host or 400; absolute-form targets; a Date on every reply; blank lines between requests" {
	start_aggd
	out=$(raw_http 'GET /healthz HTTP/1.1\r\n\r\n')
	[ "$(head -n 1 <<<"$out")" = 'HTTP/1.1 400 Bad Request' ]
	[ "$(tail -n 1 <<<"$out")" = '{"error":"no Host header"}' ]
	out=$(raw_http 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')
	[ "$(tail -n 1 <<<"$out")" = '{"error":"more than one Host header"}' ]
	out=$(raw_http "GET http://127.0.0.1:$AGGD_PORT/stats?x=1 HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n")
	[ "$(head -n 1 <<<"$out")" = 'HTTP/1.1 200 OK' ]
	grep -q '"unique_processed":0' <<<"$out"
	# RFC 9110 6.6.1, IMF-fixdate in GMT
	grep -Eq '^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$' <<<"$out"
	d=$(sed -n 's/^Date: //p' <<<"$out")
	[ $(($(date -u +%s) - $(date -u -d "$d" +%s))) -le 2 ]
	# empty lines before a request are skipped (RFC 9112 2.2)
	out=$(raw_http '\r\n\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
	[ "$(grep -c '^HTTP/1.1 200 OK$' <<<"$out")" = 2 ]
}

@test "AGG_TOKEN: 401 without the bearer token, nothing stored; healthz open" {
	AGG_TOKEN=s3cret start_aggd
	run publish "$(event t 1)"
	[ "$(last_code)" = 401 ]
	run publish "$(event t 1)" -H 'Authorization: Bearer wrong'
	[ "$(last_code)" = 401 ]
	run get "$AGGD_URL/stats"
	[ "$(last_code)" = 401 ]
	run get "$AGGD_URL/healthz"
	[ "$(last_code)" = 200 ]
	run publish "$(event t 1)" -H 'Authorization: Bearer s3cret'
	[ "$(last_code)" = 200 ]
	run get -H 'Authorization: Bearer s3cret' "$AGGD_URL/stats"
	[ "$(jq -c '[.received,.unique_processed]' <<<"$output")" = '[1,1]' ]
}

@test "a body's head is judged first where it decides alone: 401 over -b, and instead of 100 Continue" {
	AGG_TOKEN=s3cret start_aggd --max-body 1000
	big=$(head -c 5000 /dev/zero | tr '\0' x)
	run publish "$big"
	[ "$(last_code)" = 401 ]
	run publish "$big" -H 'Authorization: Bearer s3cret'
	[ "$(last_code)" = 413 ]
	# chunked, past -b while it is read
	out=$(raw_http 'POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000\r\nxx')
	[ "$(head -n 1 <<<"$out")" = "HTTP/1.1 401 Unauthorized" ]
	# a client that waits for 100 Continue gets its 401 at once, no 100
	out=$(raw_http 'POST /publish HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 300\r\n\r\n')
	[ "$(head -n 1 <<<"$out")" = "HTTP/1.1 401 Unauthorized" ]
	[ "$(grep -c '100 Continue' <<<"$out")" = 0 ]
	grep -q '^Connection: close$' <<<"$out"
	out=$(raw_http 'POST /nowhere HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n')
	[ "$(head -n 1 <<<"$out")" = "HTTP/1.1 404 Not Found" ]
	# a HEAD gets the status and headers only
	out=$(raw_http 'HEAD /publish HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n')
	[ "$(head -n 1 <<<"$out")" = "HTTP/1.1 405 Method Not Allowed" ]
	grep -q '^Allow: POST$' <<<"$out"
	[ "$(grep -c error <<<"$out")" = 0 ]
	# a body sent whole is read, answered, and the connection kept
	out=$(raw_http 'POST /nowhere HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nContent-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
	[ "$(grep '^HTTP/1.1' <<<"$out" | tr '\n' ,)" = "HTTP/1.1 404 Not Found,HTTP/1.1 200 OK," ]
	# with the token and a body within -b, the request goes on
	run publish "$(event t 1)" -H 'Authorization: Bearer s3cret'
	[ "$(last_code)" = 200 ]
	run get -H 'Authorization: Bearer s3cret' "$AGGD_URL/stats"
	[ "$(jq -c '[.received,.unique_processed]' <<<"$output")" = '[1,1]' ]
}

@test "--token overrides AGG_TOKEN" {
	AGG_TOKEN=env start_aggd --token flag
	run publish "$(event t 1)" -H 'Authorization: Bearer env'
	[ "$(last_code)" = 401 ]
	run publish "$(event t 1)" -H 'Authorization: Bearer flag'
	[ "$(last_code)" = 200 ]
}

@test "--token-file: the first line is the token, kept out of ps; the clients take it too" {
	printf 's3cret\r\nsecond line\n' >"$TMP/token"
	start_aggd --token-file "$TMP/token"
	! ps -o args= -p "$AGGD_PID" | grep -q s3cret
	run publish "$(event t 1)" -H 'Authorization: Bearer s3cret'
	[ "$(last_code)" = 200 ]
	run publish "$(event t 2)" -H 'Authorization: Bearer second line'
	[ "$(last_code)" = 401 ]
	AGG_TOKEN= run "$AGG_BIN/aggstat" -j --token-file "$TMP/token" -u "$AGGD_URL"
	[ "$status" = 0 ]
	[ "$(jq -r .unique_processed <<<"$output")" = 1 ]
	AGG_TOKEN= run "$AGG_BIN/aggevents" --token-file "$TMP/token" -u "$AGGD_URL"
	[ "$status" = 0 ]
	[ "$(jq -r .event_id <<<"$output")" = 1 ]
	printf '{"topic":"t","event_id":"3","timestamp":"2025-10-21T10:00:00Z","source":"s","payload":{}}\n' |
	    AGG_TOKEN= "$AGG_BIN/aggpub" -q --token-file "$TMP/token" -u "$AGGD_URL" -
	[ "$(curl -s -H 'Authorization: Bearer s3cret' "$AGGD_URL/stats" | jq .unique_processed)" = 2 ]
	: >"$TMP/empty"
	run "$AGG_BIN/aggd" --token-file "$TMP/empty"
	[ "$status" = 2 ]
	[ "$output" = "aggd: --token-file $TMP/empty: no token on its first line; try 'aggd --help'" ]
	run "$AGG_BIN/aggpub" --token-file "$TMP/none"
	[ "$status" = 2 ]
	[[ "$output" == *"--token-file $TMP/none: No such file or directory"* ]]
}

@test "/stats lists the first 1000 topics and topic_count, ?topic= any one; /topics pages through every name once" {
	start_aggd
	awk 'BEGIN { for (i = 2500; i >= 1; i--)
	    printf "{\"topic\":\"t%05d\",\"event_id\":\"1\",\"timestamp\":" \
	    "\"2025-10-21T10:00:00Z\",\"source\":\"s\",\"payload\":{}}\n", i }' >"$TMP/t.ndjson"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
	    --data-binary @"$TMP/t.ndjson" "$AGGD_URL/publish")" = 200 ]
	run get "$AGGD_URL/stats"
	[ "$(jq -c '[.topic_count, (.topics | length), (.by_topic | length), .topics[0], .topics[-1], .unique_processed]' <<<"$output")" = '[2500,1000,1000,"t00001","t01000",2500]' ]
	# every name once, in order, over pages of 700
	after= pages=0
	: >"$TMP/names"
	while :; do
		curl -s -G --data-urlencode "after=$after" "$AGGD_URL/topics?limit=700" >"$TMP/page"
		jq -r '.topics[]' "$TMP/page" >>"$TMP/names"
		pages=$((pages + 1))
		after=$(jq -r '.next // empty' "$TMP/page")
		[ -n "$after" ] || break
	done
	[ "$pages" = 4 ]
	[ "$(wc -l <"$TMP/names")" = 2500 ]
	sort -c "$TMP/names"
	[ "$(sort -u "$TMP/names" | wc -l)" = 2500 ]
	[ "$(curl -s "$AGGD_URL/topics?after=t02499")" = '{"topics":["t02500"],"next":null}' ]
	[ "$(curl -s "$AGGD_URL/topics?after=t00002&limit=1")" = '{"topics":["t00003"],"next":"t00003"}' ]
	[ "$(curl -s "$AGGD_URL/topics?limit=99999999999999999999999" | jq '.topics | length')" = 2500 ]
	# one topic's figures, wherever it sorts; aggstat counts them all
	[ "$(curl -s "$AGGD_URL/stats?topic=t02400" | jq -c '[.topics, .by_topic.t02400.unique_processed, .topic_count]')" = '[["t02400"],1,2500]' ]
	[ "$(curl -s "$AGGD_URL/stats?topic=nope" | jq -c '[.topics, .by_topic]')" = '[[],{}]' ]
	[ "$("$AGG_BIN/aggstat" -u "$AGGD_URL" | grep '^topics ')" = 'topics 2500' ]
	[ "$("$AGG_BIN/aggstat" -u "$AGGD_URL" -t t02400 | grep '^unique_processed ')" = 'unique_processed 1' ]
	run get "$AGGD_URL/topics?limit=0"
	[ "$(last_code)" = 400 ]
	run get "$AGGD_URL/topics?after=a%00b"
	[ "$(last_code)" = 400 ]
}

@test "--max-topics: a request that would pass it is 422 and stores nothing; known topics go on" {
	start_aggd --max-topics 3
	publish_ndjson "$(event a 1)
$(event b 1)
$(event c 1)" >/dev/null
	[ "$(last_code)" = 200 ]
	run publish_ndjson "$(event a 2)
$(event d 1)"
	[ "$(last_code)" = 422 ]
	[[ "$(jq -r .error <<<"$output")" == *"a new topic would pass the limit of 3 topics (--max-topics); nothing of this request was stored"* ]]
	run publish "$(event c 2)"
	[ "$(last_code)" = 200 ]
	run get "$AGGD_URL/stats"
	[ "$(jq -c '[.received, .unique_processed, .topic_count]' <<<"$output")" = '[4,4,3]' ]
	run "$AGG_BIN/aggd" --max-topics 0
	[ "$status" = 2 ]
}

@test "GET / lists the endpoints" {
	start_aggd
	run get "$AGGD_URL/"
	[ "$(last_code)" = 200 ]
	[ "$(jq -c '[.service, .version, (.endpoints | index("POST /publish") != null)]' <<<"$output")" = '["aggd","1.2.0",true]' ]
}

@test "an NDJSON body sent as JSON: 400 that says to set the NDJSON type" {
	start_aggd
	printf '%s\n%s\n' "$(event t 1)" "$(event t 2)" >"$TMP/two.ndjson"
	run curl -s --data-binary @"$TMP/two.ndjson" "$AGGD_URL/publish"
	[[ "$(jq -r .error <<<"$output")" == *"unexpected data after the value; it looks like NDJSON: send it with Content-Type: application/x-ndjson" ]]
	# other trailing data is not taken for NDJSON
	run publish "$(event t 1) x"
	[ "$(last_code)" = 400 ]
	[[ "$(jq -r .error <<<"$output")" != *NDJSON* ]]
	# and with the type it goes in
	run publish_ndjson "$(cat "$TMP/two.ndjson")"
	[ "$(jq -c . <<<"$output")" = '{"accepted":2,"unique":2,"duplicates":0}' ]
}

@test "GET /events: received_at on every event, growing with seq; before= gives the newest" {
	start_aggd
	for i in 1 2 3 4 5; do publish "[$(event t "a$i"),$(event u "b$i")]" >/dev/null; done
	run get "$AGGD_URL/events"
	jq -e '[.events[].received_at | test("^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")] | all' <<<"$output"
	jq -e '[.events[].received_at] | . == sort' <<<"$output"
	[ "$(get "$AGGD_URL/events?before=8&limit=3" | jq -c '[.events[].seq]')" = '[5,6,7]' ]
	[ "$(get "$AGGD_URL/events?before=8&limit=3&topic=t" | jq -c '[.events[].seq]')" = '[3,5,7]' ]
	[ "$(get "$AGGD_URL/events?before=99&limit=2&topic=u" | jq -c '[.events[].seq]')" = '[8,10]' ]
	[ "$(get "$AGGD_URL/events?before=1" | jq -c '.count')" = 0 ]
	[ "$(get "$AGGD_URL/events?before=4&after=1&limit=9" | jq -c '[.events[].seq]')" = '[2,3]' ]
}

@test "GET /events parameters: a NUL is 400; digits past the maximum count as it" {
	start_aggd
	publish "[$(event t 1),$(event t 2)]" >/dev/null
	for q in 'limit=2%00garbage' 'topic=t%00x' 'after=0%00'; do
		run get "$AGGD_URL/events?$q"
		[ "$(last_code)" = 400 ] || { echo "$q: $(last_code)"; false; }
	done
	for q in 'limit=99999999999999999999' 'limit=999999999999999999999999999999' \
	    'wait=0&limit=10001'; do
		run get "$AGGD_URL/events?$q"
		[ "$(last_code)" = 200 ] || { echo "$q: $(last_code)"; false; }
		[ "$(jq .count <<<"$output")" = 2 ]
	done
	run get "$AGGD_URL/events?after=999999999999999999999999999"
	[ "$(jq -c '[.count,.next]' <<<"$output")" = '[0,null]' ]
	# a wait far past the maximum is the maximum (60 s), not an error
	curl -s "$AGGD_URL/events?after=2&wait=99999999999999999999999" >"$TMP/lp" &
	poller=$!
	wait_metric agg_http_long_polls ">=" 1
	kill "$poller"
	wait "$poller" || true
}
