"""Activities, grouped by the outside system they touch: the audit database, notifications, KPI
feeds and the evidence store."""
