#!/bin/sh
# docker-compose only: the two databases of DESIGN.md §1 (schema comes from migrations).
set -e
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -c "CREATE DATABASE auth_db" -c "CREATE DATABASE flags_db"
