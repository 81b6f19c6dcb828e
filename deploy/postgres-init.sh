#!/bin/sh
# Run once by the postgres image when its volume is new: the audit trail's own role and
# database, beside Temporal's. Alembic (run by every worker and web app at start, one at a time
# under a PostgreSQL advisory lock: infra/db.py) makes and upgrades its tables. The password comes from the environment (.env), never from this file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$BPO_DB_PASSWORD" <<'SQL'
CREATE ROLE bpo LOGIN PASSWORD :'pw';
CREATE DATABASE bpo_audit OWNER bpo;
SQL
