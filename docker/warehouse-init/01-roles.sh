#!/bin/bash
# Runs once, when the warehouse volume is first initialised (postgres image's initdb hook).
# Creates the two application roles with the passwords from .env; the schema itself comes from
# `python -m retail_pipeline.warehouse migrate` (the warehouse-migrate service), as retail_loader.
set -euo pipefail
: "${RETAIL_LOADER_PASSWORD:?set in .env (docker/generate_env.py)}"
: "${BI_READER_PASSWORD:?set in .env (docker/generate_env.py)}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v loader_pw="$RETAIL_LOADER_PASSWORD" -v reader_pw="$BI_READER_PASSWORD" <<'SQL'
CREATE ROLE retail_loader LOGIN CREATEROLE PASSWORD :'loader_pw';
CREATE ROLE bi_reader LOGIN NOCREATEROLE NOCREATEDB PASSWORD :'reader_pw';
ALTER DATABASE retail_analytics OWNER TO retail_loader;
ALTER SCHEMA public OWNER TO retail_loader;
-- PostgreSQL 14 lets PUBLIC create in schema public: take that away, so bi_reader only reads.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE retail_analytics TO bi_reader;
SQL
