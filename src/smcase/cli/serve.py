"""``smcase serve``: the capture service (signed platform webhooks in, the ingest pipeline behind)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..errors import InvalidInput
from .app import App, pass_app

#: The largest delivery accepted by default: Facebook's are a few kilobytes; a batched one stays far below this.
DEFAULT_MAX_BODY = 1 << 20


def default_spool(app: App) -> Path:
    """Where deliveries are spooled unless ``--spool`` says: beside the register's documents."""
    from ..db import files_dir_for

    return files_dir_for(app.db_url).with_name(files_dir_for(app.db_url).name + "-spool.sqlite3")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep the default behind a reverse proxy).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--spool", "spool_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite file deliveries are committed to before they are acknowledged. "
                   "[default: beside the document store, <store>-spool.sqlite3]")
@click.option("--max-body", type=click.IntRange(1024, 64 << 20), default=DEFAULT_MAX_BODY, show_default=True,
              help="The largest delivery accepted, in bytes (larger ones are refused with 413).")
@click.option("--no-poll", is_flag=True, help="Do not poll the active Mastodon channels (webhooks only).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="info", show_default=True, help="How much the service logs on stderr.")
@pass_app
def serve(app: App, host: str, port: int, spool_path: Path | None, max_body: int, no_poll: bool,
          log_level: str) -> None:
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
    secret = read_secret("SMCASE_FACEBOOK_APP_SECRET")
    token = read_secret("SMCASE_FACEBOOK_VERIFY_TOKEN")
    assert secret is not None and token is not None  # required=True raises instead
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    path = spool_path or default_spool(app)
    try:
        spool = Spool(path)
    except SpoolError as exc:
        raise InvalidInput(str(exc)) from None
    metrics = Metrics()
    backlog, _oldest = spool.backlog()
    worker = Worker(spool, service, app.plugins, metrics)
    state = ServeState(spool=spool, metrics=metrics, app_secret=secret, verify_token=token, max_body=max_body,
                       engine=app.engine, worker=worker)
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
    # The access log is off: a handshake's query string carries the verify token.
    config = uvicorn.Config(create_app(state), host=host, port=port, access_log=False, log_config=None,
                            log_level=log_level.lower(), server_header=False, lifespan="off")
    try:
        uvicorn.Server(config).run()
    finally:
        if pollers is not None:
            pollers.stop()
        spool.stop()  # commits what was queued; the worker then finishes its pass
        worker.stop()
        spool.close()
        click.echo("smcase serve: stopped", err=True)
