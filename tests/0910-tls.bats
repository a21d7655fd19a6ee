#!/usr/bin/env bats
# contrib/nginx-tls.conf, run as it ships (only its port, certificate and
# aggd's address changed) by Debian's nginx in front of a real aggd.

load helper

setup_file() {
	command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
}

# nginx_tls: a certificate for localhost, aggd, and nginx with the
# example config on a free port; sets TLS_URL and NGINX_PID
nginx_tls() {
	local n=$TMP/nginx port i
	mkdir -p "$n/logs" "$n/tmp"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost -keyout "$n/key.pem" \
	    -out "$n/cert.pem" 2>/dev/null
	start_aggd -k s3cret
	port=$(aggabuse freeport 127.0.0.1:0)
	sed -e "s|listen 443 ssl;|listen 127.0.0.1:$port ssl;|" \
	    -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$AGGD_PORT;|" \
	    -e "s|/etc/ssl/agg/fullchain.pem|$n/cert.pem|" \
	    -e "s|/etc/ssl/agg/privkey.pem|$n/key.pem|" \
	    "$BATS_TEST_DIRNAME/../contrib/nginx-tls.conf" >"$n/agg.conf"
	# the smallest nginx.conf around it that runs without root
	cat >"$n/nginx.conf" <<CONF
pid $n/nginx.pid;
error_log $n/logs/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $n/tmp/body;
	proxy_temp_path $n/tmp/proxy;
	fastcgi_temp_path $n/tmp/fcgi;
	uwsgi_temp_path $n/tmp/uwsgi;
	scgi_temp_path $n/tmp/scgi;
	include $n/agg.conf;
}
CONF
	nginx -p "$n" -c "$n/nginx.conf" -g 'daemon off;' 2>"$n/stderr" &
	NGINX_PID=$!
	TLS_URL=https://localhost:$port
	for i in $(seq 600); do
		curl -s --cacert "$n/cert.pem" -o /dev/null "$TLS_URL/healthz" && return 0
		kill -0 "$NGINX_PID" 2>/dev/null || { cat "$n/stderr" "$n/logs/error.log" >&2; return 1; }
		sleep 0.05
	done
	return 1
}

# helper.bash's teardown, after nginx is stopped
eval "helper_$(declare -f teardown)"
teardown() {
	[ -z "${NGINX_PID:-}" ] || { kill "$NGINX_PID"; wait "$NGINX_PID" || true; }
	helper_teardown
}

tls() {		# tls CURLARGS: curl through nginx with the token
	curl -s --cacert "$TMP/nginx/cert.pem" -H 'Authorization: Bearer s3cret' "$@"
}

@test "nginx-tls.conf: publish, read and long-poll through TLS" {
	nginx_tls
	aggpub -q -o - -n 1000 >"$TMP/in.ndjson"
	[ "$(tls -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/in.ndjson" \
	    "$TLS_URL/publish" | jq -c .)" = '{"accepted":1000,"unique":800,"duplicates":200}' ]
	[ "$(tls "$TLS_URL/stats" | jq .unique_processed)" = 800 ]
	[ "$(tls "$TLS_URL/events?limit=10000" | jq .count)" = 800 ]
	# the token passes through: without it, aggd's 401
	[ "$(curl -s --cacert "$TMP/nginx/cert.pem" -o /dev/null -w '%{http_code}' \
	    "$TLS_URL/stats")" = 401 ]
	# a long poll held by aggd is answered through nginx when news comes
	tls "$TLS_URL/events?topic=lp&wait=30" >"$TMP/lp" &
	poller=$!
	AGG_TOKEN=s3cret wait_metric agg_http_long_polls ">=" 1
	tls -H 'Content-Type: application/json' --data-binary "$(event lp 1)" \
	    "$TLS_URL/publish" >/dev/null
	wait "$poller"
	[ "$(jq -c '[.count, .events[0].event_id]' "$TMP/lp")" = '[1,"1"]' ]
}

@test "nginx-tls.conf: a body over 16 MiB is refused, by nginx or aggd" {
	nginx_tls
	head -c $((17 << 20)) /dev/zero >"$TMP/big"
	code=$(tls -o /dev/null -w '%{http_code}' --data-binary @"$TMP/big" \
	    -H 'Content-Type: application/json' "$TLS_URL/publish")
	[ "$code" = 413 ]
	[ "$(tls "$TLS_URL/stats" | jq .received)" = 0 ]
}
