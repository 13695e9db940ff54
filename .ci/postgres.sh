#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for the scale-out tests; prints the storage URL to use.
# Installs Debian's server when the machine has none. Used by .ci/run; safe to run twice.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
    pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start -o "-c listen_addresses=127.0.0.1" >&2 2>/dev/null || true
for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -q && break
    sleep 1
done
pg_isready -h 127.0.0.1 >&2
runuser -u postgres -- psql -q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tuner')
    THEN CREATE ROLE tuner LOGIN CREATEDB PASSWORD 'tuner-ci'; END IF; END \$\$;" >&2
runuser -u postgres -- psql -q -c "ALTER ROLE tuner CREATEDB" >&2
runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_database WHERE datname = 'tuner'" | grep -q 1 \
    || runuser -u postgres -- createdb -O tuner tuner >&2
echo "postgresql+psycopg2://tuner:tuner-ci@127.0.0.1:5432/tuner"
