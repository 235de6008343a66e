"""The capture service started for real: ``smcase serve`` in a child process on a free loopback port.

Shared by the service's tests and its fault test; deliveries are signed as Facebook signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent
PAGE = "104857600000001"
APP_SECRET = "test-app-secret-5f1c"
VERIFY_TOKEN = "test-verify-token-91aa"


def torsby_channel(cli: Any, plan: Path) -> None:
    """Torsby's register (its users who approve, and a capture user) with the channel of ``plan`` active."""
    assert cli("init", "--name", "Torsby kommun", "--policy", str(REPO / "fixtures/policies/torsby.toml")).exit_code == 0
    for user, role in (("ulla", "unit_manager"), ("gustav", "head_of_administration"), ("stina", "strategy"),
                       ("capture", "capture")):
        assert cli("users", "add", user, "--role", role).exit_code == 0
    proposed = cli("channel", "propose", "--plan", str(plan))
    assert proposed.exit_code == 0, proposed.output
    for user, step in (("ulla", "unit_manager"), ("gustav", "head_of_administration"),
                       ("stina", "strategy_consultation")):
        assert cli("channel", "approve", "1", "--step", step, user=user).exit_code == 0
    assert cli("channel", "start", "1").exit_code == 0


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The ``X-Hub-Signature-256`` header Facebook sends with ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(*values: dict[str, Any], page: str = PAGE) -> bytes:
    """A Page webhook delivery carrying ``values`` as feed changes."""
    return json.dumps({"object": "page", "entry": [{"id": page, "time": 1767600005, "changes": [
        {"field": "feed", "value": v} for v in values]}]}, ensure_ascii=False).encode()


def comment(n: int, message: str, *, verb: str = "add", at: int = 1767600000, author: str = "7300000000000001",
            parent: str | None = None) -> dict[str, Any]:
    """Comment number ``n`` on the page's post 1221."""
    value: dict[str, Any] = {"item": "comment", "verb": verb, "from": {"id": author, "name": "Anna Ström"},
                             "post_id": f"{PAGE}_1221", "comment_id": f"1221_{n}",
                             "parent_id": parent or f"{PAGE}_1221", "created_time": at}
    if verb != "remove":
        value["message"] = message
    return value


class Served:
    """``smcase serve`` as a child process; ``post``/``get`` talk to it over HTTP."""

    def __init__(self, db_url: str, files_dir: Path, spool: Path, *, user: str = "capture",
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None, poll: bool = False) -> None:
        self.db_url, self.files_dir, self.spool, self.user = db_url, files_dir, spool, user
        self.extra = extra if poll else ("--no-poll", *extra)
        self.port = free_port()
        self.env = {**os.environ, "SMCASE_FILES": str(files_dir), "SMCASE_FACEBOOK_APP_SECRET": APP_SECRET,
                    "SMCASE_FACEBOOK_VERIFY_TOKEN": VERIFY_TOKEN, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = spool.with_suffix(".log")

    def start(self, timeout: float = 30) -> Served:
        """Start the service and wait until ``/healthz`` answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "smcase", "--db", self.db_url, "--user", self.user, "serve",
                 "--port", str(self.port), "--spool", str(self.spool), *self.extra],
                env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"smcase serve exited with {self.process.returncode}: {self.output()}")
            try:
                status, _body = self.get("/healthz")
                if status in (200, 503):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"smcase serve did not answer in {timeout} s: {self.output()}")

    def output(self) -> str:
        """What the service printed."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, Any] | None = None) -> tuple[int, str]:
        """One request on a new connection: the status and the body as text."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, str]:
        """GET ``path``."""
        return self.request("GET", path)

    def post(self, body: bytes, signature: str | None = "sign") -> tuple[int, str]:
        """POST a delivery, signed with the right secret unless ``signature`` says otherwise (None: unsigned)."""
        headers: dict[str, Any] = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = sign(body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature.encode("utf-8")  # as bytes: a hostile one need not be latin-1
        return self.request("POST", "/webhooks/facebook", body, headers)

    def health(self) -> dict[str, Any]:
        """The ``/healthz`` report."""
        _status, body = self.get("/healthz")
        return dict(json.loads(body))

    def drained(self, timeout: float = 60) -> dict[str, Any]:
        """Wait until every stored delivery is processed; the health report then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.health()
            if report["pending_deliveries"] == 0:
                return report
            time.sleep(0.1)
        raise AssertionError(f"deliveries still pending after {timeout} s: {self.output()}")

    def metric(self, name: str, **labels: str) -> float:
        """A metric's current value (0 when it has not been counted yet)."""
        _status, body = self.get("/metrics")
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
        for line in body.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"smcase serve did not stop on SIGTERM: {self.output()}") from None


def spooled(spool: Path) -> int:
    """How many deliveries the spool holds (processed or not)."""
    engine = create_engine(f"sqlite:///{spool}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())
    finally:
        engine.dispose()
