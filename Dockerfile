# syntax=docker/dockerfile:1
# One image for every ToggleMaster function; each Knative Service picks its
# function with FUNCTION_TARGET (auth, flags, targeting, evaluation, analytics).
# Two stages: the first builds the project's wheel and every dependency's, the second
# installs them offline, so the image holds what runs and no build tooling or sources
# (.dockerignore keeps functions/devstack, tests and local state out of the context).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY functions ./functions
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
# The source functions-framework loads is main.py of the installed package; the build
# fails below if the base image ever moves site-packages. WORKERS (granian worker
# processes) defaults to the machine's cores: the Knative Services set it explicitly.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOGGLEMASTER_SQL_DIR=/app/sql \
    FUNCTION_SOURCE=/usr/local/lib/python3.11/site-packages/functions/main.py \
    PORT=8080

WORKDIR /app
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels togglemaster \
    && test -f "$FUNCTION_SOURCE" \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin togglemaster
COPY sql ./sql
USER 10001:10001

EXPOSE 8080
# The same server command `make dev` runs (functions/serve.py): granian, ASGI for
# evaluation and WSGI for the others, reading FUNCTION_TARGET, PORT and WORKERS from the
# environment. Migrations run as a Job:
#   python -m functions.commands.migrate   (AUTH_DATABASE_URL, CONFIG_DATABASE_URL)
CMD ["togglemaster-serve"]
