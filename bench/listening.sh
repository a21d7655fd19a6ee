# Sourced by bench/run and bench/soak.
#
# listening PID LOG: prints the port that PID announced in LOG ("listening
# on 127.0.0.1:PORT", as aggd and bench/nullsrv say it) once /healthz
# answers there (nullsrv answers anything); fails with LOG on stderr if
# PID exits first.
listening() {
	local p
	until p=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$2") && [ -n "$p" ] &&
	    curl -fs "http://127.0.0.1:$p/healthz" >/dev/null; do
		kill -0 "$1" 2>/dev/null || { cat "$2" >&2; return 1; }
		sleep 0.02
	done
	echo "$p"
}
