# One image for the engine's processes: `bpo worker`, `bpo web`, `bpo setup`, `bpo codec-server`
# and the `bpo` command. Temporal's own binaries stay out (the `server` extra brings them for
# `bpo server`), so the image is the engine alone; it runs as an unprivileged user.
FROM python:3.11.7-slim-bookworm
WORKDIR /app
# The pinned releases first (`make lock` writes requirements.lock), in a layer of their own: two
# builds of one commit install the same, and a change of code rebuilds only the layers below.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY starter.py worker.py ./
COPY infra ./infra
COPY bpo ./bpo
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
COPY examples ./examples
# --no-deps: everything the package needs came from the lock above (tests/test_fresh_install.py
# holds that a fresh `pip install -c requirements.lock .` brings exactly the lock, nothing more).
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 --home-dir /data --create-home bpo \
    && install -d -o bpo /data/evidence
ENV BPO_DATA_DIR=/data BPO_LOG_FORMAT=json
USER bpo
VOLUME /data
ENTRYPOINT ["bpo"]
CMD ["worker"]
