# Sourced by bench/run and bench/soak.
#
# serve LOG CMD...: starts CMD (a server that prints "listening on
# 127.0.0.1:PORT" on stderr, as aggd and bench/nullsrv do) with stdin from
# /dev/null and stderr into LOG, and waits until /healthz answers there
# (nullsrv answers anything).  Sets served_pid and served_port; when CMD
# exits first, prints LOG on stderr and returns 1.
serve() {
	local log=$1; shift
	: >"$log"
	"$@" </dev/null 2>"$log" &
	served_pid=$! served_port=
	until served_port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\)\(,.*\)\{0,1\}$/\1/p' "$log") &&
	    [ -n "$served_port" ] &&
	    curl -fs "http://127.0.0.1:$served_port/healthz" >/dev/null; do
		kill -0 $served_pid 2>/dev/null || { cat "$log" >&2; return 1; }
		sleep 0.02
	done
}

# metric URL NAME: NAME's value in the /metrics of the server at URL
metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
