#!/bin/sh
# One-off, in temporalio/admin-tools: wait until the server answers (the temporal CLI's own
# health check), then make sure the namespace exists.
set -eu
for attempt in $(seq 1 30); do
  temporal operator cluster health --address "$TEMPORAL_ADDRESS" && break
  [ "$attempt" = 30 ] && { echo "the Temporal server never became healthy"; exit 1; }
  sleep 2
done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$TEMPORAL_NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$TEMPORAL_NAMESPACE" --retention 30d
echo "namespace $TEMPORAL_NAMESPACE is ready"
