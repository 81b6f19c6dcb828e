-- The audit trail's own database and role, beside Temporal's. Alembic (run by every worker at
-- start) creates and upgrades its tables.
CREATE ROLE bpo LOGIN PASSWORD 'bpo';
CREATE DATABASE bpo_audit OWNER bpo;
