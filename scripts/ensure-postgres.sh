#!/usr/bin/env bash
# Make sure the PostgreSQL server the storage tests use answers on 127.0.0.1:5432
# (database `test`, trust auth). Starts the local Debian cluster when it is down.
set -u
ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; }
ready && exit 0
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  done
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
if ready; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || createdb -h 127.0.0.1 -U postgres test 2>/dev/null || true
  exit 0
fi
echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2
[ "${TANDEM_REQUIRE_POSTGRES:-0}" = 1 ] && exit 1
exit 0
