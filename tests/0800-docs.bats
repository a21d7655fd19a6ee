#!/usr/bin/env bats
# The words match the tools: every man page is mandoc-clean, every option
# that a tool's --help prints is in its man page, and every tool answers
# --help, --version and a bad option as the contract says.

load helper

ROOT=$BATS_TEST_DIRNAME/..
TOOLS="aggd aggpub aggstat aggevents"

manpage() {	# manpage TOOL: its page in man/
	case $1 in
	aggd) echo "$ROOT/man/aggd.8" ;;
	*) echo "$ROOT/man/$1.1" ;;
	esac
}

# The options a tool's --help names: every --long, and every -x, with
# clusters such as [-rx] split into -r -x.
help_options() {
	local help
	help=$("$1" --help) || return 1
	grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help"
	grep -oE -- '(^|[][ ,|(])-[A-Za-z0-9]+' <<<"$help" |
	    sed 's/^[][ ,|(]//; s/^-//' | grep -oE '[A-Za-z0-9]' | sed 's/^/-/'
}

# Every option of TOOL --help appears in the rendered man page as a word.
options_documented() {
	local tool=$1 page text opt missing=
	page=$(manpage "$tool")
	[ -f "$page" ] || { echo "$tool: no man page $page"; return 1; }
	text=$(mandoc -Tascii "$page" | sed "s/.\x08//g")
	for opt in $(help_options "$tool" | sort -u); do
		grep -qE -- "(^|[^A-Za-z0-9-])$opt([^A-Za-z0-9-]|\$)" <<<"$text" ||
		    missing="$missing $opt"
	done
	[ -z "$missing" ] || { echo "$tool: not in $page:$missing"; return 1; }
}

@test "every man page is there and mandoc -Tlint clean" {
	local p
	for p in aggd.8 aggpub.1 aggstat.1 aggevents.1 agg.7; do
		[ -f "$ROOT/man/$p" ] || { echo "missing man/$p"; return 1; }
	done
	for p in "$ROOT"/man/*.[1-8]; do
		# -W warning: STYLE notes would only say that the other pages are
		# not installed where mandoc looks for them.
		run mandoc -Tlint -W warning "$p"
		[ "$status" -eq 0 ] || { echo "$p: $output"; return 1; }
		[ -z "$output" ] || { echo "$p: $output"; return 1; }
	done
}

@test "agg(7) refers to every tool's page" {
	local t
	for t in aggd.8 aggpub.1 aggstat.1 aggevents.1; do
		grep -q "^\.Xr ${t%.*} ${t##*.}" "$ROOT/man/agg.7" ||
		    { echo "agg.7: no .Xr ${t%.*} ${t##*.}"; return 1; }
	done
}

@test "help_options finds short clusters and long options" {
	run help_options aggd
	[[ $output == *--max-body* ]]
	[[ $output == *$'\n-k'* ]]
	[[ $output == *$'\n-x'* ]]
	[[ $output == *$'\n-V'* ]]
}

@test "every option of aggd --help is in aggd(8)" {
	run options_documented aggd
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every option of aggpub --help is in aggpub(1)" {
	run options_documented aggpub
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every option of aggstat --help is in aggstat(1)" {
	run options_documented aggstat
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every option of aggevents --help is in aggevents(1)" {
	run options_documented aggevents
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every tool: --help and --version exit 0, -h and -V too" {
	local t
	for t in $TOOLS; do
		run timeout 10 "$t" --help </dev/null
		[ "$status" -eq 0 ] || { echo "$t --help: $status"; return 1; }
		[[ $output == *usage:* ]] || { echo "$t --help: no usage"; return 1; }
		run timeout 10 "$t" -h </dev/null
		[ "$status" -eq 0 ] || { echo "$t -h: $status"; return 1; }
		run timeout 10 "$t" --version </dev/null
		[ "$status" -eq 0 ] || { echo "$t --version: $status"; return 1; }
		[ "$output" = "$t 1.1.0" ] || [[ $output == "$t "[0-9]* ]] ||
		    { echo "$t --version: $output"; return 1; }
		run timeout 10 "$t" -V </dev/null
		[ "$status" -eq 0 ] || { echo "$t -V: $status"; return 1; }
	done
}

@test "every tool: a bad option is exit 2 with one line on stderr that says where to look" {
	local t
	for t in $TOOLS; do
		run timeout 10 "$t" --no-such-option </dev/null
		[ "$status" -eq 2 ] || { echo "$t --no-such-option: $status"; return 1; }
		[ "$output" = "$t: unknown option --no-such-option; try '$t --help'" ] ||
		    { echo "$t: $output"; return 1; }
		run timeout 10 "$t" -@ </dev/null
		[ "$status" -eq 2 ] || { echo "$t -@: $status"; return 1; }
		"$t" --no-such-option 2>/dev/null </dev/null | grep -q . &&
		    { echo "$t: bad option printed on stdout"; return 1; }
		true
	done
}

# The same facts in every document: a docs test catches drift.
DOCS="$ROOT/README.md $ROOT/man/agg.7 $ROOT/man/aggd.8 $ROOT/man/aggpub.1 $ROOT/man/aggstat.1 $ROOT/man/aggevents.1 $ROOT/contrib/crontab.example"

@test "docs: one set of facts (dates, version, SIGTERM, textfile folder, vocabulary, letters)" {
	local version bad
	version=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$ROOT/Makefile")
	# a real date on every page
	! grep -n 'Mdocdate' "$ROOT"/man/*.[178]
	# the version a page quotes is the one that ships
	bad=$(grep -ohE '\b(aggd|aggpub|aggstat|aggevents) [0-9]+\.[0-9]+\.[0-9]+' "$ROOT"/man/*.[178] |
	    grep -v " $version\$" || true)
	[ -z "$bad" ] || { echo "other versions: $bad"; false; }
	# SIGTERM: within 10 seconds, in every page that gives a bound
	! grep -nE 'within (8|eight) (s|seconds)' $DOCS
	grep -q 'within 10 seconds' "$ROOT/man/agg.7"
	grep -q 'within 10 seconds' "$ROOT/man/aggd.8"
	# one textfile folder
	bad=$(grep -ohE '[^ ]*/agg\.prom' $DOCS | grep -v '^/var/lib/prometheus/node-exporter/agg.prom$' | sort -u || true)
	[ -z "$bad" ] || { echo "other folders: $bad"; false; }
	# the counters' names of 1.1's by_topic are gone
	! grep -nE 'topic\.[^ ]*\.(unique|duplicates)( |$)|by_topic\.[a-z]*\.(unique|duplicates)\b' $DOCS
	# the token is -k everywhere (old letters only where they are called old)
	! grep -nE '^\.Op Fl [tT] Ar token|aggd -t |aggstat -T |aggevents -T ' $DOCS
	# no file outside the repository is cited
	! grep -nE '\.\./shared|CONTRACT\.md|the issue' $DOCS
}
