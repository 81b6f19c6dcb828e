# One image for every process of the engine: `bpo server`, `bpo worker`, and the `bpo` command.
FROM python:3.11.7-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY starter.py worker.py ./
COPY bpo ./bpo
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
COPY examples ./examples
RUN pip install --no-cache-dir .
ENV BPO_DATA_DIR=/data BPO_LOG_FORMAT=json
VOLUME /data
ENTRYPOINT ["bpo"]
CMD ["worker"]
