"""Polling captures: one pass for one channel, and the pollers ``smcase serve`` runs for every active one.

A pass fetches what is new since the channel's saved position, ingests it
through the ``mastodon-api`` adapter and the ingest pipeline, and only then
saves the new position: a crash in between fetches the same again and ingest's
idempotence adds nothing. A failed pass keeps the position and notes the error
(one line, never the token); a channel whose capture has not succeeded for the
policy's limit shows as a "capture stalled" duty.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import InvalidInput
from ..events import ParseContext
from ..ingest import Ingest, Summary
from ..plugins import Plugins
from ..register import RegisterService
from ..register.capture import CaptureView
from .config import Secret, read_secret, secret_from_file

log = logging.getLogger("smcase.capture")
ADAPTER = "mastodon-api"


class CaptureFailed(Exception):
    """A pass failed: the message is one line naming the channel and the reason (never a token)."""


def token_for(capture: CaptureView) -> Secret:
    """The channel's token: its token file, else SMCASE_MASTODON_TOKEN or SMCASE_MASTODON_TOKEN_FILE."""
    if capture.token_file:
        # The service's own secrets are never sent anywhere: a token file that is one of them is refused.
        own = {os.path.realpath(v) for k in ("SMCASE_FACEBOOK_APP_SECRET_FILE", "SMCASE_FACEBOOK_VERIFY_TOKEN_FILE")
               if (v := os.environ.get(k))}
        if os.path.realpath(capture.token_file) in own:
            raise InvalidInput(f"the token file of {capture.channel} is one of the service's Facebook secrets: "
                               "refused (give the channel its own Mastodon token file)")
        return secret_from_file(capture.token_file, f"the token file of {capture.channel}")
    found = read_secret("SMCASE_MASTODON_TOKEN")
    assert found is not None  # required: raises instead
    return found


def capture_pass(service: RegisterService, plugins: Plugins, capture: CaptureView, **options: Any) -> Summary:
    """One pass over ``capture``'s account: fetch, ingest, then save the position. ``options`` go to the poller
    (``transport``, ``sleep``: tests). CaptureFailed when the platform or the token fails."""
    from .mastodon import MastodonCapture, MastodonError

    if capture.platform != "mastodon" or not capture.instance:
        raise CaptureFailed(f"{capture.channel}: no Mastodon instance configured (channel change --instance)")
    try:
        token = token_for(capture)
    except InvalidInput as exc:
        service.note_capture(capture.channel_id, error=str(exc))
        raise CaptureFailed(f"{capture.channel}: {exc}") from None
    poller = MastodonCapture(capture.instance, capture.platform_id, token.reveal(),
                             recheck_days=service.policy.capture.recheck_days, **options)
    try:
        result = poller.run_pass(capture.position)
    except MastodonError as exc:
        service.note_capture(capture.channel_id, error=str(exc))
        raise CaptureFailed(f"{capture.channel}: {exc}") from None
    summary = Ingest(service, plugins).run(
        io.BytesIO(b"\n".join(result.lines)), ADAPTER,
        ParseContext(channel=capture.channel, source_name=f"mastodon poll of {capture.platform_id}"))
    service.note_capture(capture.channel_id, position=result.position)
    return summary


class Pollers(threading.Thread):
    """Polls every active Mastodon channel with capture configured, at the policy's interval, until stopped."""

    def __init__(self, make_service: Callable[[], RegisterService], plugins: Plugins, metrics: Any = None) -> None:
        super().__init__(name="smcase-pollers", daemon=True)
        self.make_service = make_service
        self.plugins = plugins
        self.metrics = metrics
        self.stopping = threading.Event()
        self.last: dict[str, str] = {}  # channel → "ok at …" or the last error, for /healthz

    def stop(self, timeout: float = 30) -> None:
        """Stop after the pass under way."""
        self.stopping.set()
        self.join(timeout)

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports of the pollers."""
        failing = sum(1 for state in self.last.values() if state.startswith("failed"))
        return {"pollers": "alive" if self.is_alive() else "not running", "polls": dict(self.last),
                "polls_failing": failing}

    def run(self) -> None:
        """Poll each due channel; sleep until the next is due."""
        service = self.make_service()  # a service of its own: the worker's lives in another thread
        interval = service.policy.capture.poll_interval_seconds
        while not self.stopping.is_set():
            now = service.clock()
            for capture in service.captures("mastodon", active_only=True):
                if self.stopping.is_set():
                    return
                if capture.last_attempt_at and (now - capture.last_attempt_at).total_seconds() < interval:
                    continue
                self._one(service, capture)
            self.stopping.wait(min(interval, 60))

    def _one(self, service: RegisterService, capture: CaptureView) -> None:
        started = time.monotonic()
        try:
            summary = capture_pass(service, self.plugins, capture)
        except CaptureFailed as exc:
            self.last[capture.channel] = f"failed: {exc}"
            self._count("error")
            log.error("%s", exc)
        except Exception as exc:  # a bug or the register down: named, contained, retried at the next interval
            self.last[capture.channel] = f"failed: {type(exc).__name__}"
            self._count("error")
            log.error("polling %s failed (%s)", capture.channel, type(exc).__name__)
        else:
            self.last[capture.channel] = f"ok at {datetime.now().astimezone().isoformat(timespec='seconds')}"
            self._count("ok")
            log.info("polled %s: %d new, %d duplicates (%.1f s)", capture.channel, summary.stored,
                     summary.duplicates, time.monotonic() - started)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.polls.labels("mastodon", outcome).inc()
