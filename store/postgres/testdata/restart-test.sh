#!/usr/bin/env bash
# Runs TestServerRestart against a private, throwaway PostgreSQL server
# (its own data directory and port), never the shared one: the test stops
# and starts the server it is given.
#
#   store/postgres/testdata/restart-test.sh          # from the repository root
#
# Needs the PostgreSQL server binaries (Debian: /usr/lib/postgresql/*/bin)
# and, when run as root, the postgres system user to own the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
port=${RELMAN_PG_RESTART_PORT:-55432}
dir=$(mktemp -d /tmp/relman-pg-restart.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
pgctl="${as[*]} $bin/pg_ctl -D $dir/data -l $dir/log -w -o '-p $port -k $dir -c listen_addresses=127.0.0.1'"
cleanup() { sh -c "$pgctl -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
sh -c "$pgctl start" >/dev/null
RELMAN_PG_RESTART_TEST=1 \
RELMAN_PG_RESTART_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable&connect_timeout=5" \
RELMAN_PG_STOP="$pgctl -m fast stop" \
RELMAN_PG_START="$pgctl start" \
	go test -count=1 -run '^TestServerRestart$' -v "$@" .
