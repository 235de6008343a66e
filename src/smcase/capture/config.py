"""What live capture is configured with: a channel's platform id, where to poll, and secrets read from files.

Secrets (an app secret, a verify token, an access token) come from an
environment variable or, better for a service, from a file named by
``<NAME>_FILE`` (systemd's ``LoadCredential``, a Docker secret). They are held
in ``Secret``, whose ``repr`` and ``str`` never show the value, so a secret
cannot reach a log line or an error message by accident.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InvalidInput

#: A Facebook page id: digits only (ids are strings; never converted to int).
_PAGE_ID = re.compile(r"\d{1,30}")
#: A Mastodon account as ``user`` or ``user@host`` (the ``acct`` the API's lookup takes).
_ACCT = re.compile(r"@?[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]{1,253})?")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
SECRET_LIMIT = 4096


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows itself: ``str``/``repr`` give its source, ``reveal()`` the value."""

    value: str
    source: str

    def reveal(self) -> str:
        """The secret itself, for the one place that uses it (an HMAC key, an Authorization header)."""
        return self.value

    def __repr__(self) -> str:
        return f"Secret(from {self.source})"

    __str__ = __repr__


def read_secret(name: str, environ: Mapping[str, str] | None = None, *, required: bool = True) -> Secret | None:
    """The secret in ``$NAME`` or in the file ``$NAME_FILE`` (trailing newline removed); InvalidInput naming the
    variable or the file (never the value) when it is missing, empty, unreadable or both are set."""
    env = os.environ if environ is None else environ
    direct, file_name = env.get(name), env.get(f"{name}_FILE")
    if direct and file_name:
        raise InvalidInput(f"both {name} and {name}_FILE are set: keep one (the file is safer)")
    if file_name:
        return secret_from_file(file_name, f"{name}_FILE")
    if direct:
        return Secret(direct.strip(), name)
    if required:
        raise InvalidInput(f"set {name} or {name}_FILE (a file holding it)")
    return None


def secret_from_file(path: str, source: str | None = None) -> Secret:
    """The secret held in the file at ``path``; InvalidInput naming the file when it cannot be used."""
    where = f"{source} ({path})" if source else path
    try:
        data = Path(path).read_bytes()[:SECRET_LIMIT + 1]
    except OSError as exc:
        raise InvalidInput(f"cannot read the secret file {where}: {exc.strerror or exc}") from None
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidInput(f"the secret file {where} is not UTF-8 text") from None
    if not value:
        raise InvalidInput(f"the secret file {where} is empty")
    if len(data) > SECRET_LIMIT or "\n" in value:
        raise InvalidInput(f"the secret file {where} holds more than one line: it should hold only the secret")
    return Secret(value, where)


@dataclass(frozen=True)
class CaptureSettings:
    """A channel's live capture as configured: ``platform_id`` is what deliveries and polls are matched on."""

    platform_id: str
    instance: str | None = None
    token_file: str | None = None


def check_settings(platform: str, platform_id: str | None, instance: str | None = None,
                   token_file: str | None = None) -> CaptureSettings:
    """Validated capture settings for a channel on ``platform``; InvalidInput naming the setting that is wrong."""
    pid = (platform_id or "").strip()
    if platform == "facebook":
        if not _PAGE_ID.fullmatch(pid):
            raise InvalidInput(f"a Facebook page id is digits only (the page's Graph API id), not {pid[:40]!r}")
        if instance:
            raise InvalidInput("--instance is for Mastodon; a Facebook page needs only its page id")
        return CaptureSettings(pid, None, _token_file(token_file))
    if platform == "mastodon":
        if not _ACCT.fullmatch(pid):
            raise InvalidInput(f"a Mastodon account is given as name or name@host, not {pid[:40]!r}")
        if not instance:
            raise InvalidInput("a Mastodon channel's capture needs --instance (the server's address, https://…)")
        return CaptureSettings(pid.lstrip("@"), check_instance(instance), _token_file(token_file))
    raise InvalidInput(f"live capture is not available for {platform} channels (facebook and mastodon are)")


def check_instance(instance: str) -> str:
    """A Mastodon server's base address: https, or http on this machine only (a local test server)."""
    parts = urlsplit(instance.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise InvalidInput(f"the instance must be a server address like https://mastodon.example, not "
                           f"{instance[:80]!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise InvalidInput("the instance must use https (http only for a server on this machine): the token "
                           "would cross the network in clear")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _token_file(path: str | None) -> str | None:
    if not path:
        return None
    found = Path(path).expanduser()
    if not found.is_file():
        raise InvalidInput(f"no such token file: {path}")
    return str(found.resolve())
