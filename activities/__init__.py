"""Activities, grouped by the outside system they touch: the audit database, notifications."""
