#!/bin/sh
# One-off, in temporalio/admin-tools: create Temporal's two databases in PostgreSQL and bring
# their schemas to the version this admin-tools release carries. Safe to run again: an existing
# database is kept and only newer schema versions are applied.
set -eu
# The password comes from SQL_PASSWORD in the environment, never on the command line (where `ps`
# shows it to every user of the host).
: "${SQL_PASSWORD:?set SQL_PASSWORD: the temporal role's password}"
sql() { temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u temporal "$@"; }
schemas=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  folder=$([ "$db" = temporal ] && echo temporal || echo visibility)
  sql --db "$db" create || echo "database $db exists"
  sql --db "$db" setup-schema -v 0.0 || echo "schema of $db already set up"
  sql --db "$db" update-schema -d "$schemas/$folder/versioned"
done
echo "Temporal schemas are up to date"
