"""The `bpo` command line and what the processes share: settings, client, server, rendering."""
