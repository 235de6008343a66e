"""What live capture is configured with: a channel's platform id, where to poll, and secrets read from files.

Secrets (an app secret, a verify token, an access token) come from an
environment variable or, better for a service, from a file named by
``<NAME>_FILE`` (systemd's ``LoadCredential``, a Docker secret). They are held
in ``Secret``, whose ``repr`` and ``str`` never show the value, so a secret
cannot reach a log line or an error message by accident.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InvalidInput

log = logging.getLogger("smcase.capture")

#: A Facebook page id: digits only (ids are strings; never converted to int).
_PAGE_ID = re.compile(r"\d{1,30}")
#: A Mastodon account as ``user`` or ``user@host`` (the ``acct`` the API's lookup takes).
_ACCT = re.compile(r"@?[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]{1,253})?")
#: A host name: dot-separated labels of letters, digits and hyphens, the last one not all digits.
_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?\.?",
                   re.IGNORECASE)
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
        return secret_from_file(file_name, f"the file in {name}_FILE")
    if direct:
        return Secret(direct.strip(), name)
    if required:
        raise InvalidInput(f"set {name} or {name}_FILE (a file holding it)")
    return None


def secret_from_file(path: str, source: str | None = None) -> Secret:
    """The secret held in the file at ``path`` (``source`` says whose it is, for messages); InvalidInput naming
    the file when it cannot be used. At most a few kilobytes are read: a secret is one short line."""
    where = f"{source} ({path})" if source else f"the secret file {path}"
    try:
        with open(path, "rb") as handle:
            data = handle.read(SECRET_LIMIT + 1)
            mode = os.fstat(handle.fileno()).st_mode
    except OSError as exc:
        raise InvalidInput(f"cannot read {where}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode) and mode & 0o077:
        log.warning("%s can be read by other users: make it readable by the service alone (chmod 600)", where)
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidInput(f"{where} is not UTF-8 text") from None
    if not value:
        raise InvalidInput(f"{where} is empty")
    if len(data) > SECRET_LIMIT or "\n" in value or not value.isprintable():
        raise InvalidInput(f"{where} holds more than one short line: it should hold only the secret")
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
    pid = unicodedata.normalize("NFKC", platform_id or "").strip()  # fullwidth digits are digits
    if platform == "facebook":
        if not _PAGE_ID.fullmatch(pid):
            raise InvalidInput(f"a Facebook page id is 1 to 30 digits (the page's Graph API id), not {pid[:40]!r}")
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
    """A Mastodon server's base address: https (http only on this machine), a host name or an IP address written
    plainly, no path, no credentials. Addresses that lead into the machine's own cloud (link-local, such as
    169.254.169.254) or that hide a number behind another spelling (``https://2852039166``) are refused: the token
    is sent there."""
    text = instance.strip()
    refused = InvalidInput(f"the instance must be a server address like https://mastodon.example, not {text[:80]!r}")
    if not text.isprintable() or len(text) > 300:
        raise refused
    parts = urlsplit(text)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise refused from None
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment or parts.username \
            or parts.password or parts.path.strip("/"):
        raise refused
    address = _ip(host)
    if address is None and not _HOST.fullmatch(host):
        raise refused  # not a name, and not an address written as one
    if address is not None and (address.is_link_local or address.is_multicast or address.is_unspecified
                                or address.is_reserved):
        raise InvalidInput(f"the instance {host} is not an address a Mastodon server can have")
    loopback = host == "localhost" or (address is not None and address.is_loopback)
    if parts.scheme == "http" and not loopback:
        raise InvalidInput("the instance must use https (http only for a server on this machine): the token "
                           "would cross the network in clear")
    return f"{parts.scheme}://{host if address is None or address.version == 4 else f'[{host}]'}" + (
        f":{port}" if port else "")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _token_file(path: str | None) -> str | None:
    if not path:
        return None
    found = Path(path).expanduser()
    if not found.is_file():
        raise InvalidInput(f"no such token file: {path}")
    return str(found.resolve())
