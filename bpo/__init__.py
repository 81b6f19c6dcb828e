"""The `bpo` command line and the web app, over the ground floor (`infra/`): the commands, the web
app, the API they share with Temporal, rendering, and building the worker (`running`)."""
