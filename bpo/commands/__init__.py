"""The `bpo` command's commands, by audience: `deciding` (approvers and leads), `seeing`
(everyone who watches a transition), `operating` (whoever runs the engine). `starter.py` holds
the parser and `main`; `common` what they share."""
