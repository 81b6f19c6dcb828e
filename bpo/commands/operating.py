"""Commands for whoever runs the engine: the server, workers, the whole stack, setup, codecs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bpo.api import start_transition
from bpo.commands.common import FAILED, Exit, client_for, connections_of, plan_from, unreachable
from infra.settings import Settings

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


async def cmd_start(args: argparse.Namespace, settings: Settings) -> None:
    """Start a transition from a plan; prints its id."""
    from bpo.commands.deciding import operator

    plan = plan_from(args.plan, settings)
    client = await client_for(settings)
    transition_id = await start_transition(
        client,
        plan,
        task_queue=settings.task_queue,
        transition_id=args.id,
        private=bool(settings.encryption_key),
        trusted_keys=settings.trusted_keys,
        replace_ended=args.replace_ended,
        **settings.flush_timing,
        signer=settings.signer,
        started_by=operator(settings),
        allow_unsigned=settings.allow_unsigned,
    )
    print(json.dumps({"id": transition_id}) if args.json else transition_id)


async def cmd_setup(args: argparse.Namespace, settings: Settings) -> None:
    """Register the search attributes on a cluster, or say what its operator must run instead;
    then make the digest schedule if it is missing."""
    from temporalio.service import RPCError

    from bpo.server import SearchAttributesRefused, register_search_attributes
    from infra.digest_schedule import ensure_digest_schedule, schedule_id
    from workflows.search import SEARCH_ATTRIBUTES

    client = await client_for(settings)
    namespace = settings.temporal_namespace
    try:
        added = await register_search_attributes(client, namespace)
    except SearchAttributesRefused as refused:
        raise Exit(refused.instructions(), FAILED) from None
    schedule, unmade = schedule_id(settings.task_queue), None
    try:
        made = await ensure_digest_schedule(client, settings.task_queue)
    except RPCError as refused:  # the search attributes stand; each worker tries again at its start
        made, unmade = False, f"the cluster refused it ({refused.message})"
    if args.json:
        there = [key.name for key in SEARCH_ATTRIBUTES if key.name not in added]
        print(json.dumps({"namespace": namespace, "added": list(added), "already_there": there,
                          "digest_schedule": schedule, "digest_schedule_made": made,
                          **({"digest_schedule_refused": unmade} if unmade else {})}, indent=2))  # fmt: skip
        return
    print(
        f"search attributes in namespace '{namespace}': added {', '.join(added) or 'none'}; "
        f"{len(SEARCH_ATTRIBUTES) - len(added)} were there already"
    )
    print(f"digest schedule '{schedule}': {unmade or ('made' if made else 'there already')}")


async def _rotate(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.commands.common import model_input, print_status
    from bpo.commands.deciding import send_from_cli
    from models.commands import TrustKeys

    if not args.id:
        raise Exit("name the transition: bpo keys rotate ID --add KEY --remove KEY")
    if settings.signer is None:
        raise Exit("rotating keys needs BPO_SIGNING_KEY: the private half of a key the transition trusts now")
    fields = {"add": args.add, "remove": args.remove, "by": args.by, "request_id": args.request_id}
    command = model_input(TrustKeys, **{k: v for k, v in fields.items() if v})
    status = await send_from_cli(settings, args.id, command)
    if args.json:
        print_status(status, True)
        return
    print(f"transition {status.id} trusts {len(status.trusted_keys)} keys: {', '.join(status.trusted_keys)}")


def cmd_server(args: argparse.Namespace, settings: Settings) -> None:
    """Replace this process with the Temporal dev server."""
    from bpo.server import server_command

    command = server_command(
        settings.data_dir,
        args.port,
        args.ui_port,
        settings.temporal_namespace,
        ip=args.ip,
        codec_endpoint=args.codec_endpoint,
        sync=settings.server_sync,
    )
    print(
        f"Temporal dev server on {args.ip}:{args.port}, Web UI on http://localhost:{args.ui_port}, "
        f"data in {settings.data_dir / 'temporal.db'} (sync: {settings.server_sync})"
        + (f", payloads decoded by {args.codec_endpoint}" if args.codec_endpoint else ""),
        file=sys.stderr,
    )
    os.execv(command[0], command)


def cmd_keys(args: argparse.Namespace, settings: Settings) -> None:
    """A new key pair for signed commands, as two lines a shell or a .env file takes; or, with
    ``rotate``, the keys a running transition trusts changed."""
    if args.action == "rotate":
        asyncio.run(_rotate(args, settings))
        return
    from bpo.commands.arguments import only_with

    only_with(args, "'bpo keys rotate ID'", False, "id", "add", "remove", "by", "request_id")
    from models.signing import new_key_pair

    private, public = new_key_pair()
    if args.json:
        print(json.dumps({"BPO_SIGNING_KEY": private, "BPO_TRUSTED_KEYS": public}, indent=2))
    else:
        print(f"BPO_SIGNING_KEY={private}\nBPO_TRUSTED_KEYS={public}")
    print(
        "# BPO_SIGNING_KEY is secret: give it only to the processes that send commands (the web app,\n"
        "# an operator's shell). Transitions started with BPO_TRUSTED_KEYS set refuse unsigned commands.",
        file=sys.stderr,
    )


def cmd_codec_server(args: argparse.Namespace, settings: Settings) -> None:
    """Decode encrypted payloads for the Web UI."""
    from infra.codec import codec_for, serve_codec

    codec = codec_for(settings.encryption_key, settings.encryption_old_keys)
    if codec is None:
        raise Exit("set BPO_ENCRYPTION_KEY: the codec server decodes with the same key as the worker")
    origins = args.ui_origin or ["http://localhost:8233", "http://127.0.0.1:8233"]
    try:
        server = serve_codec(
            codec,
            args.ip,
            args.port,
            origins,
            token=settings.codec_token,
            allow_encode=args.allow_encode,
            names=args.host_name or [],
        )
    except ValueError as exc:
        raise Exit(str(exc)) from None
    print(f"codec server on http://{args.ip}:{args.port} for {', '.join(origins)}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    """Run a worker until stopped."""
    from activities import audit_writer
    from bpo.running import run_worker

    connections_of(settings)  # a file that says something wrong stops the worker before it starts
    try:
        asyncio.run(run_worker(settings))  # no server: `infra.client.Unreachable`, told by `bpo`'s main
    except RuntimeError as exc:  # the SDK's worker validation, in its core's words (a Status dump)
        said = str(exc).lower()
        if "validation failed" in said and "namespace" in said:
            raise Exit(unreachable(settings, exc), FAILED) from None
        raise
    finally:
        audit_writer.close()  # the process ends with os._exit, which runs no exit handler


def cmd_web(args: argparse.Namespace, settings: Settings) -> None:
    """Serve the web app until stopped."""
    from bpo.web.app import serve
    from bpo.web.devmode import refusal

    if why := refusal(settings, args.host):
        raise Exit(why)
    connections_of(settings)  # the web app checks uploaded plans against them
    serve(settings, args.host, args.port)


async def _until_on_a_roster(address: str, person: str, timeout: float = 60.0) -> None:
    """Wait until the worker has run the demo's first turn and published its roster, so a sign-in
    link asked for as soon as the engine says it runs is sent (it is sent only to people on the
    roster of a running transition)."""
    from bpo.server import wait_for_server
    from bpo.web.views import on_a_roster

    client = await wait_for_server(address)
    for _ in range(int(timeout / 0.3)):
        if await on_a_roster(client, person):
            return
        await asyncio.sleep(0.3)


DEMO_PROGRAM_OFFICE = "dana@acme.example,li@acme.example"
"""Who may start transitions from the web app under `bpo up` unless BPO_PROGRAM_OFFICE says."""


def _dev_mode(settings: Settings) -> bool:
    """Whether `bpo up` runs the web app in development mode: as ``BPO_WEB_DEV`` says in the
    environment or ``.env``; unset, yes unless ``BPO_WEB_URL`` is an https address."""
    if "web_dev" in settings.model_fields_set:
        return settings.web_dev
    return not (settings.web_url or "").lower().startswith("https://")


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop `bpo up` and what it runs, even when it was started with SIGINT
    ignored (a shell's background job, nohup): Python then leaves SIGINT alone."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def cmd_up(args: argparse.Namespace, settings: Settings) -> None:
    """Server, worker, web app and the demo transition, until Ctrl-C: what runs where first, then
    a line per event a person cares about; each process's structured log goes to ``.data/logs/``."""
    import threading

    from bpo.first_screen import local_mailer, local_receiver, log_files, opening, watch_trail
    from bpo.server import wait_for_server
    from infra.addresses import LOOPBACK

    stop_on_signals()
    bpo = [sys.executable, "-m", "starter"]
    web = f"http://localhost:{args.web_port}"
    # The demo plan's channels post to ${BPO_WEBHOOK_URL} and mail through BPO_SMTP_URL: unless
    # the environment names them, sinks on this machine take its notices, so the demo delivers
    # all it asks for and nothing warns that a channel is off.
    receiver, webhook = (None, None) if settings.webhook_url else local_receiver()
    # Mail is sunk only in development mode, where sign-in links are on /dev/outbox: elsewhere a
    # sink would swallow them.
    mail_sink, mailer = (None, None) if settings.smtp_url or not _dev_mode(settings) else local_mailer()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{args.port}",
        "BPO_DATA_DIR": str(settings.data_dir),
        "BPO_WEB_URL": settings.web_url or web,
        # The embedded default unless the environment or .env says otherwise (or serves https).
        "BPO_WEB_DEV": "1" if _dev_mode(settings) else "0",
        # The demo's sponsor and program manager are its program office: they may start plans.
        "BPO_PROGRAM_OFFICE": settings.program_office_text or DEMO_PROGRAM_OFFICE,
        # The demo's receivers are on this machine; a deployment names what it allows itself.
        "BPO_FETCH_ALLOW": settings.fetch_allow_text or LOOPBACK,
        # A trial on this machine: its transitions may trust no key (a deployment sets one).
        "BPO_ALLOW_UNSIGNED": os.environ.get("BPO_ALLOW_UNSIGNED", "1"),
        # The logs are files for machines (and `jq`); the terminal has the lines for people.
        "BPO_LOG_FORMAT": "json",
        **({"BPO_WEBHOOK_URL": webhook} if webhook else {}),
        **({"BPO_SMTP_URL": mailer} if mailer else {}),
    }
    logs = log_files(settings.data_dir)

    def spawn(name: str, *command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*bpo, *command], env=env, stdout=logs[name], stderr=subprocess.STDOUT)

    stop = threading.Event()
    children = [spawn("server", "server", "--port", str(args.port), "--ui-port", str(args.ui_port))]
    try:
        try:
            asyncio.run(wait_for_server(env["TEMPORAL_ADDRESS"]))
        except TimeoutError as late:
            # Its own words are in its log now, not on the terminal: say where to read them.
            where = settings.data_dir.resolve() / "logs" / "server.log"
            raise Exit(f"{late}; the server's own account is in {where}", FAILED) from None
        children.append(spawn("worker", "worker"))
        children.append(spawn("web", "web", "--port", str(args.web_port)))
        print(
            opening(
                web=web,
                ui=f"http://localhost:{args.ui_port}",
                address=env["TEMPORAL_ADDRESS"],
                data_dir=settings.data_dir.resolve(),
                webhook=webhook,
                mailer=mailer,
            ),
            flush=True,
        )
        watcher = threading.Thread(
            target=watch_trail, args=(settings.audit_url, lambda line: print(line, flush=True), stop), daemon=True
        )
        watcher.start()
        plan = EXAMPLES / "reference-plan.yaml"
        demo = subprocess.run([*bpo, "start", str(plan)], env=env, capture_output=True, text=True)
        demo_id = demo.stdout.strip() or "acme-tier-1-support-to-northstar-bpo"
        asyncio.run(_until_on_a_roster(env["TEMPORAL_ADDRESS"], "li@acme.example"))
        print(
            f"\nThe engine is running. Demo transition: {demo_id}"
            + (" (already there)" if demo.returncode else " (started)")
            + f"\n  Sign in at {web} as li@acme.example or dana@acme.example; in another terminal:\n"
            f"  .venv/bin/bpo status {demo_id}\n"
            f"  .venv/bin/bpo approve {demo_id} gap_analysis_approved --by li@acme.example\n",
            flush=True,
        )
        children[0].wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for sink in (receiver, mail_sink):
            if sink:
                sink.shutdown()
        for file in logs.values():
            file.close()
        print("Stopped. Logs are in " + str(settings.data_dir.resolve() / "logs"), flush=True)
