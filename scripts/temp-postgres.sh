#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server on 127.0.0.1 for benchmarks and manual tests.
#   scripts/temp-postgres.sh start DIR PORT   -> prints postgres://postgres@127.0.0.1:PORT/clinic
#   scripts/temp-postgres.sh stop DIR
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=$1 dir=$2
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
case $cmd in
  start)
    port=$3
    mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    "${as_pg[@]}" "$bin/initdb" -D "$dir/data" --auth=trust -U postgres -E UTF8 >/dev/null
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" \
      -l "$dir/log" -w start >/dev/null
    "${as_pg[@]}" psql -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE DATABASE clinic" >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/clinic";;
  stop)
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
    rm -rf "$dir";;
esac
