"""The ground floor: what every process uses to reach the outside world (settings, the audit
database and its trail, the Temporal client and its codec, logs, transport, guarded fetching,
the evidence store, sign-in links). Activities, the web app and the command line build on it; it
imports nothing of theirs."""
