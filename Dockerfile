# syntax=docker/dockerfile:1
# One image for every ToggleMaster function; each Knative Service picks its
# function with FUNCTION_TARGET (auth, flags, targeting, evaluation, analytics).
# Two stages: the first installs the locked dependencies (knative/image/requirements.lock,
# every file checked against its hash, wheels only) and the project into a virtualenv;
# the second copies that virtualenv onto the same pinned base, so the image holds what
# runs and no build tooling or sources (.dockerignore keeps functions/devstack, tests and
# local state out of the context). `make lock` regenerates the lock from pyproject.toml.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/togglemaster
COPY knative/image/requirements.lock /tmp/requirements.lock
RUN /opt/togglemaster/bin/pip install --require-hashes --only-binary=:all: \
        -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY functions ./functions
# The project itself, without resolving anything again: every dependency is in place.
RUN /opt/togglemaster/bin/pip install --no-deps . \
    && /opt/togglemaster/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
# The source functions-framework loads is main.py of the installed package; the build
# fails below if it is not there. WORKERS (granian worker processes) defaults to the
# machine's cores: the Knative Services set it explicitly.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/togglemaster/bin:$PATH \
    TOGGLEMASTER_SQL_DIR=/app/sql \
    FUNCTION_SOURCE=/opt/togglemaster/lib/python3.11/site-packages/functions/main.py \
    PORT=8080

WORKDIR /app
COPY --from=build /opt/togglemaster /opt/togglemaster
RUN test -f "$FUNCTION_SOURCE" \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin togglemaster
COPY sql ./sql
USER 10001:10001

EXPOSE 8080
# The same server command `make dev` runs (functions/serve.py): granian, ASGI for
# evaluation and WSGI for the others, reading FUNCTION_TARGET, PORT and WORKERS from the
# environment. Migrations run as a Job:
#   python -m functions.commands.migrate   (AUTH_DATABASE_URL, CONFIG_DATABASE_URL)
CMD ["togglemaster-serve"]
