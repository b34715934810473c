# ledgerstream worker image (docker-compose.yml builds it as ledgerstream:0.1.0).
# Production install: no embedded broker, no dev tools. Runs as an unprivileged user.
# Reproducible: every dependency comes from requirements.lock (pinned, hash-checked;
# `make lock` refreshes it), the project itself is built without resolving anything.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY streams ./streams
RUN pip install --no-cache-dir --upgrade pip==24.3.1 \
 && pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.lock \
 && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGERSTREAM_SCHEMAS_DIR=/app/schemas \
    LEDGERSTREAM_TOPICS_FILE=/app/deploy/topics.yaml \
    LEDGERSTREAM_DATA_DIR=/var/lib/ledgerstream \
    LEDGERSTREAM_WEB_HOST=0.0.0.0 \
    LEDGERSTREAM_WEB_PORT=6066 \
    LEDGERSTREAM_PROFILE=cluster
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && pip check && rm -rf /wheels \
 && useradd --system --uid 10001 --home-dir /app ledgerstream \
 && mkdir -p /var/lib/ledgerstream && chown ledgerstream /var/lib/ledgerstream
WORKDIR /app
COPY schemas ./schemas
COPY deploy/topics.yaml ./deploy/topics.yaml
USER ledgerstream
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/ready', timeout=2)"]
ENTRYPOINT []
CMD ["ledgerstream", "worker"]
