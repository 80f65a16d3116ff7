# One image for every ToggleMaster function; each Knative Service picks its
# function with FUNCTION_TARGET (auth, flags, targeting, evaluation, analytics).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/app \
    TOGGLEMASTER_SQL_DIR=/app/sql \
    FUNCTION_SOURCE=/app/functions/main.py \
    WORKERS=1 \
    THREADS=8 \
    PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY functions ./functions
COPY sql ./sql
RUN pip install . && useradd --uid 10001 --no-create-home togglemaster
USER 10001

EXPOSE 8080
# The same server command `make dev` runs: functions-framework reads FUNCTION_TARGET,
# FUNCTION_SOURCE and PORT from the environment. Migrations run as a Job:
#   python -m functions.commands.migrate   (AUTH_DATABASE_URL, CONFIG_DATABASE_URL)
CMD ["functions-framework"]
