"""The `bpo` command line and the web app, over the ground floor (`infra/`): the commands, the web
app, what both do to transitions (`api`), rendering, and building the worker (`running`)."""
