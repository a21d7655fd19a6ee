#!/bin/bash
# tests/docker.sh - the container promise of the contract, for real.
#
# Installs docker.io, docker-compose and debootstrap when missing, starts
# dockerd when none answers, makes sure the base image debian:bookworm-slim
# exists (pulled, or else a stand-in built with debootstrap and `docker
# import`, kept for later runs), then runs the contract's four commands as
# written and checks what they leave behind:
#   - /stats: unique 4000, duplicates 1000 after one default publisher run,
#     unique 4000, duplicates 6000 after a second one;
#   - `down` + `up -d aggregator` keeps everything (the named volume);
#   - aggd runs as a non-root user and the healthcheck turns healthy.
# Prints TAP-ish ok / not ok lines and the closing "N passed, N failed".
# Exit 0 all passed, 1 something failed, 77 no Docker engine can be started
# here (a skip: .ci/run does not fail on it).
# Leaves dockerd running (it may serve others) and removes its containers,
# network and volume; the images stay as a cache.
# shellcheck disable=SC2317  # functions run through check, indirectly
set -u
cd "$(dirname "$0")/.." || exit 1

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-aggdockertest}
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} COMPOSE_DOCKER_CLI_BUILD=${COMPOSE_DOCKER_CLI_BUILD:-0}
BASE=debian:bookworm-slim
STATS=http://localhost:8080/stats
LOG=${TMPDIR:-/tmp}/agg-docker-test.$$.log
passed=0 failed=0 n=0
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

exec 3>&1	# notes reach the terminal even from inside check's redirection
note() { printf '# %s\n' "$*" >&3; }
ok() { n=$((n + 1)) passed=$((passed + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)) failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {	# check DESCRIPTION COMMAND...: one test line from an exit status
	local d=$1
	shift
	: >"$LOG"
	if "$@" >>"$LOG" 2>&1 </dev/null; then ok "$d"; return 0; fi
	nok "$d"
	tail -n 20 "$LOG" | sed 's/^/#   /'
	return 1
}
finish() {
	echo "$passed passed, $failed failed"
	rm -f "$LOG"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
skip() {
	note "skip: $*"
	rm -f "$LOG"
	exit 77
}

# --- the engine -----------------------------------------------------------

install_missing() {
	local p st missing=
	for p in docker.io docker-compose debootstrap curl jq iproute2; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case $st in *" installed") ;; *) missing="$missing $p" ;; esac
	done
	[ -z "$missing" ] && return 0
	note "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null || return 1
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

start_dockerd() {
	local _
	docker info >/dev/null 2>&1 && return 0
	command -v dockerd >/dev/null || return 1
	note "starting dockerd (log: /tmp/agg-dockerd.log)"
	$sudo sh -c 'setsid dockerd >/tmp/agg-dockerd.log 2>&1 </dev/null &'
	for _ in $(seq 1 60); do
		docker info >/dev/null 2>&1 && return 0
		sleep 1
	done
	tail -n 5 /tmp/agg-dockerd.log 2>/dev/null | sed 's/^/#   /'
	return 1
}

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror() {
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	    sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' | head -n 1)
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	    sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/\?[[:space:]]\+bookworm[[:space:]].*/\2/p' |
	    head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}

# debian:bookworm-slim: present, pulled, or a debootstrap stand-in.
base_image() {
	local dir m
	docker image inspect "$BASE" >/dev/null 2>&1 && return 0
	if timeout 60 docker pull -q "$BASE" >>"$LOG" 2>&1; then return 0; fi
	m=$(mirror)
	note "no registry: building a stand-in $BASE with debootstrap from $m"
	dir=$(mktemp -d /var/tmp/agg-bookworm.XXXXXX) || return 1
	if ! $sudo debootstrap --variant=minbase bookworm "$dir" "$m" >>"$LOG" 2>&1; then
		$sudo rm -rf "$dir"
		return 1
	fi
	# Like the real slim image: no apt caches, no docs.
	$sudo rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
	    "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* \
	    "$dir"/usr/share/locale/* 2>/dev/null
	$sudo tar -C "$dir" --numeric-owner -c . | docker import \
	    -c 'CMD ["bash"]' - "$BASE" >>"$LOG" 2>&1
	local rc=$?
	$sudo rm -rf "$dir"
	return "$rc"
}

install_missing || skip "could not install docker.io docker-compose debootstrap"
start_dockerd || skip "no Docker engine could be started"

if docker compose version >/dev/null 2>&1; then
	compose() { docker compose "$@"; }
	note "compose: docker compose ($(docker compose version --short 2>/dev/null))"
elif command -v docker-compose >/dev/null; then
	compose() { docker-compose "$@"; }
	note "compose: $(docker-compose version --short 2>/dev/null || echo docker-compose)"
else
	skip "neither docker compose nor docker-compose"
fi

check "base image $BASE exists (pulled or debootstrapped)" base_image ||
	finish

# --- the contract's four commands ----------------------------------------

stat_of() {	# stat_of KEY: one number of /stats
	curl -fsS "$STATS" | jq -r ".$1"
}
stats_are() {	# stats_are UNIQUE DUPLICATES [RECEIVED]
	local u d r
	u=$(stat_of unique_processed) d=$(stat_of duplicate_dropped) r=$(stat_of received)
	echo "stats: received=$r unique=$u duplicates=$d (want $1 $2)"
	[ "$u" = "$1" ] && [ "$d" = "$2" ] && [ "$r" = $(($1 + $2)) ]
}
wait_healthy() {	# the container's HEALTHCHECK reports healthy
	local id s _
	id=$(compose ps -q aggregator) || return 1
	for _ in $(seq 1 60); do
		s=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
		echo "health: $s"
		[ "$s" = healthy ] && return 0
		sleep 1
	done
	return 1
}
wait_stats() {	# until /stats answers (after a restart)
	local _
	for _ in $(seq 1 60); do
		curl -fsS "$STATS" >/dev/null 2>&1 && return 0
		sleep 1
	done
	return 1
}
non_root() {
	local id u
	id=$(compose ps -q aggregator) || return 1
	u=$(docker exec "$id" id -u) || return 1
	echo "aggregator runs as uid $u ($(docker exec "$id" id -un))"
	[ "$u" != 0 ] && [ -n "$u" ]
}
port_free() {
	local _
	for _ in $(seq 1 30); do
		ss -Htln 'sport = :8080' 2>/dev/null | grep -q . || return 0
		sleep 1
	done
	ss -Htlnp 'sport = :8080'
	return 1
}
stops_cleanly() {	# SIGTERM from `compose stop`: aggd exits 0
	local id rc
	id=$(compose ps -q aggregator) || return 1
	compose stop aggregator || return 1
	rc=$(docker inspect -f '{{.State.ExitCode}}' "$id")
	echo "aggd exited $rc"
	[ "$rc" = 0 ]
}
volume_kept() {
	compose down && compose up -d aggregator && wait_stats && stats_are 4000 6000
}
all_gone() {	# down -v: no container, no volume of the project left
	compose down -v --remove-orphans || return 1
	[ -z "$(docker ps -aq --filter label=com.docker.compose.project="$COMPOSE_PROJECT_NAME")" ] &&
	    [ -z "$(docker volume ls -q --filter label=com.docker.compose.project="$COMPOSE_PROJECT_NAME")" ]
}
cleanup() {
	compose down -v --remove-orphans >/dev/null 2>&1
	# what builds left behind (stopped containers of a failed step, untagged
	# stages and older images): ours only, by the label agg.stage
	docker container prune -f --filter label=agg.stage=build >/dev/null 2>&1
	docker image prune -f --filter label=agg.stage >/dev/null 2>&1
	rm -f "$LOG"
}

# Leftovers of an earlier run of this project only, never anyone else's.
compose down -v --remove-orphans >>"$LOG" 2>&1
trap cleanup EXIT
check "port 8080 is free" port_free || finish

check "docker compose build --no-cache" compose build --no-cache
note "image agg:latest: $(docker image inspect -f '{{.Size}}' agg:latest 2>/dev/null | awk '{ printf "%.1f MB", $1 / 1e6 }')"
check "docker compose up -d aggregator" compose up -d aggregator
check "publisher does not start with up -d aggregator" \
	sh -c '[ -z "$(docker ps -q --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME --filter label=com.docker.compose.service=publisher)" ]'
check "healthcheck turns healthy" wait_healthy
check "docker compose run --rm publisher" compose run --rm publisher
check "curl $STATS: unique 4000, duplicates 1000" stats_are 4000 1000
check "second publisher run adds only duplicates" compose run --rm publisher
check "curl $STATS: unique 4000, duplicates 6000" stats_are 4000 6000
check "aggregator runs as a non-root user" non_root
check "aggd stops cleanly on SIGTERM (exit 0)" stops_cleanly
check "down + up -d aggregator keeps everything (volume appdata)" volume_kept
check "GET /events total is 4000" sh -c \
	'[ "$(curl -fsS "http://localhost:8080/events?limit=1" | jq .total)" = 4000 ]'
check "down -v removes the containers and the volume" all_gone

# --- many aggd on one PostgreSQL (docker-compose.pg.yml) -------------------

pgc() { COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME}pg compose -f docker-compose.pg.yml "$@"; }
pg_image() {	# the official image, or else a stand-in built here
	AGG_PG_IMAGE=postgres:15
	docker image inspect "$AGG_PG_IMAGE" >/dev/null 2>&1 && return 0
	timeout 60 docker pull -q "$AGG_PG_IMAGE" && return 0
	AGG_PG_IMAGE=agg-test-postgres
	note "no registry: a stand-in $AGG_PG_IMAGE from tests/postgres"
	docker build -q -t "$AGG_PG_IMAGE" tests/postgres
}
pg_healthy() {	# pg_healthy SERVICE: its HEALTHCHECK says healthy
	local id s _
	id=$(pgc ps -q "$1") || return 1
	for _ in $(seq 1 90); do
		s=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
		[ "$s" = healthy ] && return 0
		sleep 1
	done
	echo "$1: $s"
	pgc logs "$1" | tail -n 5
	return 1
}
both_say() {	# both_say U D: 8080 and 8081 give the same figures
	local a b _
	for _ in $(seq 1 50); do
		a=$(curl -fsS http://localhost:8080/stats | jq -c '[.unique_processed, .duplicate_dropped]')
		b=$(curl -fsS http://localhost:8081/stats | jq -c '[.unique_processed, .duplicate_dropped]')
		[ "$a" = "[$1,$2]" ] && [ "$b" = "[$1,$2]" ] && return 0
		sleep 0.2
	done
	echo "8080: $a, 8081: $b (want [$1,$2])"
	return 1
}
pg_cleanup() { pgc down -v --remove-orphans >/dev/null 2>&1; cleanup; }
pgc down -v --remove-orphans >>"$LOG" 2>&1
trap pg_cleanup EXIT
check "PostgreSQL image (postgres:15 or a stand-in)" pg_image || finish
export AGG_PG_IMAGE
check "docker compose -f docker-compose.pg.yml up -d aggregator aggregator2" \
	pgc up -d aggregator aggregator2
both_healthy() { pg_healthy aggregator && pg_healthy aggregator2; }
check "both aggregators turn healthy on one database" both_healthy
check "publisher through aggregator 1" pgc run --rm publisher
check "both say unique 4000, duplicates 1000" both_say 4000 1000
check "the same events again through aggregator 2: only duplicates" \
	pgc run --rm -e AGGREGATOR_URL=http://aggregator2:8080/publish publisher
check "both say unique 4000, duplicates 6000" both_say 4000 6000
check "down -v (PostgreSQL)" pgc down -v --remove-orphans
finish
