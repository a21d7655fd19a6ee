#!/bin/sh
# As the official image does, in short: a new data folder is initialised
# with the user, password and database of POSTGRES_*; then the server.
set -eu
data=/var/lib/postgresql/data
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$data"
chown postgres: "$data"
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
	printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pw
	chown postgres /tmp/pw
	runuser -u postgres -- "$bin/initdb" -D "$data" -U "$POSTGRES_USER" \
	    --pwfile=/tmp/pw -A scram-sha-256 -E UTF8 --no-locale >/dev/null
	rm -f /tmp/pw
	echo "host all all all scram-sha-256" >>"$data/pg_hba.conf"
	echo "CREATE DATABASE \"$POSTGRES_DB\"" |
	    runuser -u postgres -- "$bin/postgres" --single -D "$data" \
	    postgres >/dev/null
fi
exec runuser -u postgres -- "$bin/postgres" -D "$data" \
    -c listen_addresses='*' -c unix_socket_directories=/tmp
