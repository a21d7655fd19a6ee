#!/usr/bin/env bats
# make install into a temp DESTDIR: the tree, and that what it installed
# runs, on its own, end to end.

load helper

ROOT=$BATS_TEST_DIRNAME/..

install_into() {	# install_into DESTDIR [MAKEARGS]: quietly, output on failure
	local dest=$1
	shift
	make -C "$ROOT" --no-print-directory install DESTDIR="$dest" "$@" \
	    >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; return 1; }
}

@test "make install DESTDIR PREFIX=/usr: binaries and man pages in place" {
	local d=$TMP/root f
	install_into "$d" PREFIX=/usr
	for f in aggd aggpub aggstat aggevents; do
		[ -x "$d/usr/bin/$f" ] || { echo "missing usr/bin/$f"; return 1; }
	done
	for f in man1/aggpub.1 man1/aggstat.1 man1/aggevents.1 man7/agg.7 \
	    man8/aggd.8; do
		[ -f "$d/usr/share/man/$f" ] || { echo "missing usr/share/man/$f"; return 1; }
		[ "$(stat -c %a "$d/usr/share/man/$f")" = 644 ]
	done
	# Nothing outside PREFIX.
	[ "$(ls "$d")" = usr ]
}

@test "the installed binaries run: --version" {
	local d=$TMP/root f
	install_into "$d" PREFIX=/usr
	for f in aggd aggpub aggstat aggevents; do
		run "$d/usr/bin/$f" --version
		[ "$status" -eq 0 ] || { echo "$f --version: $status $output"; return 1; }
		[[ $output == "$f "[0-9]* ]] || { echo "$f: $output"; return 1; }
	done
}

@test "the installed tools work together: aggpub | aggd -x, then aggd, aggstat, aggevents" {
	local d=$TMP/root b
	install_into "$d" PREFIX=/usr
	b=$d/usr/bin
	unset AGGREGATOR_URL AGG_TOKEN
	"$b/aggpub" -o - -n 500 -D 0.2 | "$b/aggd" -x -l 127.0.0.1:0 -d "$TMP/inst.db" \
	    2>"$TMP/load.log"
	AGG_BIN=$b start_aggd -d "$TMP/inst.db"
	run "$b/aggstat" -j -u "$AGGD_URL"
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.received, .unique_processed, .duplicate_dropped]' <<<"$output")" = '[500,400,100]' ]
	[ "$("$b/aggevents" -u "$AGGD_URL" | wc -l)" -eq 400 ]
	stop_aggd
}

@test "installed man pages render" {
	local d=$TMP/root p
	install_into "$d" PREFIX=/usr
	for p in "$d"/usr/share/man/man*/*; do
		mandoc -Tascii "$p" >/dev/null || { echo "$p does not render"; return 1; }
	done
}

@test "default PREFIX is /usr/local; make install-contrib places the unit" {
	local d=$TMP/root
	install_into "$d"
	[ -x "$d/usr/local/bin/aggd" ]
	[ -f "$d/usr/local/share/man/man7/agg.7" ]
	make -C "$ROOT" --no-print-directory install-contrib DESTDIR="$d" PREFIX=/usr \
	    >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; return 1; }
	grep -qx 'ExecStart=/usr/bin/aggd $AGGD_FLAGS' "$d/usr/lib/systemd/system/aggd.service"
	grep -qx 'StateDirectory=agg' "$d/usr/lib/systemd/system/aggd.service"
	[ -f "$d/usr/share/doc/agg/crontab.example" ]
}

@test "make uninstall takes away what install and install-contrib put in place" {
	local d=$TMP/root
	install_into "$d" PREFIX=/usr
	make -C "$ROOT" --no-print-directory install-contrib DESTDIR="$d" PREFIX=/usr \
	    >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; return 1; }
	[ "$(find "$d" -type f | wc -l)" -ge 11 ]
	echo keep >"$d/usr/bin/other"		# not ours: stays
	make -C "$ROOT" --no-print-directory uninstall DESTDIR="$d" PREFIX=/usr \
	    >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; return 1; }
	find "$d" -type f
	[ "$(find "$d" -type f)" = "$d/usr/bin/other" ]
}
