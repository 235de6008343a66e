"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

``db_url`` is parametrised over both. PostgreSQL comes from
``SMCASE_TEST_PG_URL`` (``.ci/postgres start`` prints one); each test gets a
database of its own, dropped afterwards. Without the variable the PostgreSQL
half skips with that reason, unless ``SMCASE_TEST_STRICT`` is set (as in CI),
where a missing server is a failure rather than a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, make_url

from smcase.cli import create_cli
from smcase.db import make_engine
from smcase.policy import load_file
from smcase.register import RegisterService, create_register
from smcase.resources import default_policy
from smcase.store import FileStore

from .mastodon_fake import FakeMastodon

REPO = Path(__file__).resolve().parent.parent
PG_ENV = "SMCASE_TEST_PG_URL"
STRICT = bool(os.environ.get("SMCASE_TEST_STRICT"))


def _missing(reason: str) -> None:
    if STRICT:
        pytest.fail(f"{reason} (SMCASE_TEST_STRICT is set, so this may not be skipped)")
    pytest.skip(reason)


def shared_folder(variable: str, default: Path) -> Path:
    """A folder named by ``variable`` (default ``default``); skip, or in CI fail, when it is missing."""
    folder = Path(os.environ.get(variable, default))
    if not folder.is_dir():
        _missing(f"{folder} is missing: set {variable} (see README, 'Official archive schemas')")
    return folder


@pytest.fixture(scope="session")
def standards_dir() -> Path:
    """The official schemas (SMCASE_STANDARDS, default ../shared/standards); tests skip with the reason when absent."""
    return shared_folder("SMCASE_STANDARDS", REPO.parent / "shared" / "standards")


@pytest.fixture(autouse=True, scope="session")
def _notifier_log_outside_the_tree(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A notifier plugin installed beside smcase (the example notify-log) never writes into the working folder."""
    os.environ.setdefault("SMCASE_NOTIFY_LOG", str(tmp_path_factory.mktemp("notify") / "notifications.jsonl"))


@pytest.fixture
def noark_sample(tmp_path: Path) -> Path:
    """A private copy of the valid constructed Noark 5 extraction in ../shared/samples."""
    import shutil

    shared = shared_folder("SMCASE_SHARED", REPO.parent / "shared")
    copy = tmp_path / "uttrekk"
    shutil.copytree(shared / "samples" / "noark5-v5.0-constructed" / "constructed-v5_0", copy)
    return copy


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind, private to the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'smcase.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        _missing(f"{PG_ENV} is not set: no PostgreSQL server to test against (start one with .ci/postgres)")
    admin_url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"smcase_t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test's database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@dataclass
class FakeClock:
    """A clock the test sets; each reading advances it by one millisecond."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    step: timedelta = timedelta(milliseconds=1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A settable clock (starts 2 March 2026, 09:00 UTC)."""
    return FakeClock()


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    """A fake Mastodon instance over real HTTP on 127.0.0.1 (tests/mastodon_fake.py), stopped afterwards."""
    with FakeMastodon() as fake:
        yield fake


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    """A document store private to the test."""
    return FileStore(tmp_path / "files")


MakeRegister = Callable[..., RegisterService]


@pytest.fixture
def make_register(engine: Engine, files: FileStore, clock: FakeClock) -> MakeRegister:
    """Create a register (default policy of a country) and return the service acting as its creator."""

    def make(country: str = "SE", user: str = "anna", policy_file: Path | None = None) -> RegisterService:
        policy = load_file(policy_file or default_policy(country))
        create_register(engine, name="Testkommun", policy=policy, user=user, clock=clock)
        return RegisterService.open(engine, user=user, files=files, clock=clock)

    return make


@pytest.fixture
def se(make_register: MakeRegister) -> RegisterService:
    """A Swedish register (default policy), acting as its admin-registrar 'anna'."""
    return make_register("SE")


@pytest.fixture
def no(make_register: MakeRegister) -> RegisterService:
    """A Norwegian register (default policy, Noark numbering), acting as 'anna'."""
    return make_register("NO")


@dataclass
class Cli:
    """Runs smcase commands against the test's database, stdout and stderr apart."""

    db_url: str
    files_dir: Path
    user: str = "anna"

    def __call__(self, *args: str, user: str | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        env = {"SMCASE_FILES": str(self.files_dir), "SMCASE_DEBUG": ""}
        return runner.invoke(create_cli(), ["--db", self.db_url, "--user", user or self.user, *args],
                             input=input, env=env, catch_exceptions=False)


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    """The CLI on the test's database, acting as 'anna'."""
    return Cli(db_url, tmp_path / "cli-files")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Note on the test item whether it was skipped, for the policy-marker check below."""
    report = yield
    if report.skipped:
        item.smcase_skipped = True  # type: ignore[attr-defined]
    return report


@pytest.fixture(autouse=True)
def _a_policy_marker_is_kept(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test marked ``@pytest.mark.policy("torsby")`` must load ``fixtures/policies/torsby.toml``: the guard
    (test_guidelines_guard.py) counts it as proving its rules under that municipality's own policy."""
    marker = request.node.get_closest_marker("policy")
    if marker is None:
        yield
        return
    import smcase.policy

    loaded: list[str] = []
    read = smcase.policy.read_toml

    def spy(path: Any) -> Any:
        loaded.append(Path(path).name)
        return read(path)

    monkeypatch.setattr(smcase.policy, "read_toml", spy)
    yield
    if getattr(request.node, "smcase_skipped", False):  # skipped (no PostgreSQL here): it never ran to load it
        return
    wanted = f"{marker.args[0]}.toml"
    assert wanted in loaded, f"marked policy({marker.args[0]!r}) but never loaded fixtures/policies/{wanted}"
