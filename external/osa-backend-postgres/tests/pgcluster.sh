#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A throwaway PostgreSQL cluster for the tests, no system service needed:
#   pgcluster.sh start DIR BINDIR   initdb DIR/data (trust, superuser `osa`),
#                                   start it listening only on the Unix
#                                   socket DIR/.s.PGSQL.5432, create db `osa`
#   pgcluster.sh stop DIR BINDIR    stop it (immediate) and remove DIR
#   pgcluster.sh kill DIR BINDIR    stop it the hard way (a crash), keep DIR
#   pgcluster.sh restart DIR BINDIR start it again after `kill`
# PostgreSQL refuses to run as root: as root, the server runs as the user
# `postgres` (Debian's package creates it) and DIR is handed to it.
# Exit 77 (ctest: skipped) when the server binaries are missing.
set -eu
cmd=$1
DIR=$2
BIN=${3:-}
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ] || [ ! -x "$BIN/pg_ctl" ]; then
	echo "PostgreSQL server binaries (initdb, pg_ctl) not found in '$BIN': install postgresql (scripts/install-deps)"
	exit 77
fi
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
pg_start() {
	as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
		-o "-k $DIR -p 5432 -c listen_addresses= -c fsync=off" start >/dev/null ||
		{ cat "$DIR/log" >&2; exit 1; }
}
case $cmd in
start)
	if [ -f "$DIR/data/postmaster.pid" ]; then
		as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	[ "$(id -u)" = 0 ] && chown postgres: "$DIR"
	as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U osa -N -E UTF8 \
		--locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; exit 1; }
	pg_start
	"$BIN/createdb" -h "$DIR" -p 5432 -U osa osa
	echo "PostgreSQL cluster up: host=$DIR port=5432 dbname=osa user=osa"
	;;
restart)
	pg_start
	;;
kill)
	as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null
	;;
stop)
	if [ -f "$DIR/data/postmaster.pid" ]; then
		as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null || true
	fi
	rm -rf "$DIR"
	;;
*)
	echo "usage: $0 start|stop|kill|restart DIR BINDIR" >&2
	exit 64
	;;
esac
