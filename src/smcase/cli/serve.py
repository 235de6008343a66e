"""``smcase serve``: the capture service (signed platform webhooks in, the ingest pipeline behind)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from ..errors import InvalidInput
from .app import App, pass_app
from .output import plural

#: The largest delivery accepted by default: Facebook's are a few kilobytes; a batched one stays far below this.
DEFAULT_MAX_BODY = 1 << 20


#: Connections served at once; more get 503 at once instead of exhausting the process's file descriptors.
MAX_CONNECTIONS = 512


def _refuse_a_taken_port(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's log lines later, when the address cannot be listened on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise InvalidInput(f"--host {host}: not an address of this machine") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _stop_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def default_spool(app: App) -> Path:
    """Where deliveries are spooled unless ``--spool`` says: beside the register's documents."""
    from ..db import files_dir_for

    store = files_dir_for(app.db_url)
    return store.with_name(store.name + "-spool.sqlite3")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep the default behind a reverse proxy).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--spool", "spool_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite file deliveries are committed to before they are acknowledged. "
                   "[default: beside the document store, <store>-spool.sqlite3]")
@click.option("--max-body", type=click.IntRange(1024, 64 << 20), default=DEFAULT_MAX_BODY, show_default=True,
              help="The largest delivery accepted, in bytes (larger ones are refused with 413).")
@click.option("--body-timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True, metavar="SECONDS",
              help="How long a delivery's body may take to arrive; a slower one is refused with 408.")
@click.option("--no-poll", is_flag=True, help="Do not poll the active Mastodon channels (webhooks only).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="info", show_default=True, help="How much the service logs on stderr.")
@pass_app
def serve(app: App, host: str, port: int, spool_path: Path | None, max_body: int, body_timeout: float,
          no_poll: bool, log_level: str) -> None:
    """Run the capture service: Facebook Page webhooks at /webhooks/facebook, /healthz and /metrics.

    Acts as the service user given by --user (a user with the capture role: it may ingest and nothing else).
    Reads the app secret from SMCASE_FACEBOOK_APP_SECRET or SMCASE_FACEBOOK_APP_SECRET_FILE and the
    subscription's verify token from SMCASE_FACEBOOK_VERIFY_TOKEN or SMCASE_FACEBOOK_VERIFY_TOKEN_FILE.
    Every delivery is committed to the spool before it is acknowledged, then ingested; deliveries left
    unprocessed by a crash are processed at the next start. Stops on Ctrl-C or SIGTERM.
    """
    import uvicorn

    from ..capture.config import read_secret
    from ..serve.metrics import Metrics
    from ..serve.spool import Spool, SpoolError
    from ..serve.webhooks import ServeState, create_app
    from ..serve.worker import Worker

    if app.user is None:
        raise click.UsageError("smcase serve acts as a service user: give --user NAME (a user with the capture role)")
    service = app.service
    service.require("ingest")
    if "capture" not in service.actor.roles:  # a network service runs with the least rights that do its work
        raise InvalidInput(f"smcase serve acts as a service user with the capture role, which may ingest and "
                           f"nothing else; {service.actor.username!r} has {', '.join(service.actor.roles)}: add one "
                           f"with 'smcase users add capture --role capture'")
    secret = read_secret("SMCASE_FACEBOOK_APP_SECRET")
    token = read_secret("SMCASE_FACEBOOK_VERIFY_TOKEN")
    assert secret is not None and token is not None  # required=True raises instead
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S%z")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request to the platforms
    path = spool_path or default_spool(app)
    register_file = app.engine.url.database if app.engine.url.get_backend_name() == "sqlite" else None
    if register_file and path.resolve() == Path(register_file).resolve():
        raise InvalidInput(f"--spool {path} is the register itself: give the spool a file of its own")
    _refuse_a_taken_port(host, port)
    try:
        spool = Spool(path)
    except SpoolError as exc:
        raise InvalidInput(str(exc)) from None
    metrics = Metrics()
    backlog, _oldest = spool.backlog()
    worker = Worker(spool, service, app.plugins, metrics)
    state = ServeState(spool=spool, metrics=metrics, app_secret=secret, verify_token=token, max_body=max_body,
                       engine=app.engine, worker=worker, body_seconds=body_timeout)
    pollers = None
    if not no_poll:
        from ..capture.service import Pollers
        from ..register import RegisterService

        pollers = Pollers(lambda: RegisterService.open(app.engine, user=app.user, files=app.files), app.plugins,
                          metrics)
        state.extra_health = pollers.health
    spool.start()
    worker.start()
    if pollers is not None:
        pollers.start()
    click.echo(f"smcase serve: http://{host}:{port}/webhooks/facebook as {service.actor.username!r}; spool {path}"
               + (f" ({backlog} deliveries left from the last run: processing them first)" if backlog else ""),
               err=True)
    if pollers is not None:
        polled = service.captures("mastodon", active_only=True)
        click.echo(f"smcase serve: polling {plural(len(polled), 'Mastodon channel')} every "
                   f"{service.policy.capture.poll_interval_seconds} s (each as soon as its last poll is that old)"
                   + (": " + ", ".join(c.channel for c in polled) if polled else ""), err=True)
        untokened = [c.channel for c in polled if not c.token_file]
        if untokened and read_secret("SMCASE_MASTODON_TOKEN", required=False) is None:
            click.echo(f"smcase serve: warning: {', '.join(untokened)} has no token file and SMCASE_MASTODON_TOKEN "
                       "(or _FILE) is not set: its polls will fail", err=True)
    # The access log is off: a handshake's query string carries the verify token.
    config = uvicorn.Config(create_app(state), host=host, port=port, access_log=False, log_config=None,
                            log_level=log_level.lower(), server_header=False, lifespan="off",
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=15)
    # uvicorn stops on SIGTERM and then raises it again: this handler turns it into a clean exit, so that what is
    # queued is committed and the worker finishes its pass, as on Ctrl-C.
    signal.signal(signal.SIGTERM, _stop_cleanly)
    try:
        uvicorn.Server(config).run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if pollers is not None:
            pollers.stop()
        spool.stop()  # commits what was queued; the worker then finishes its pass
        worker.stop()
        spool.close()
        click.echo("smcase serve: stopped", err=True)
