"""The command line, through CliRunner with stdout and stderr checked apart."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from smcase.cli import create_cli
from smcase.resources import default_policy

from .conftest import Cli

CASE_KEYS = {"diary_number", "title", "public_title", "status", "confidentiality", "opened_at", "closed_at"}


@pytest.fixture
def ready(cli: Cli) -> Cli:
    """A Swedish register created through the CLI by 'anna'."""
    result = cli("init", "--name", "Torsby kommun", "--org-number", "212000-1769", "--country", "SE")
    assert result.exit_code == 0, result.stderr
    return cli


def test_init_with_country_picks_the_default_policy(cli: Cli) -> None:
    result = cli("init", "--name", "Torsby kommun", "--country", "SE", "--prefix", "KS")
    assert result.exit_code == 0, result.stderr
    assert "diary numbers look like KS 2026/0001" in result.stdout
    assert "You (anna) are its first user, with the roles admin, registrar" in result.stdout
    again = cli("init", "--name", "Torsby kommun", "--country", "SE")
    assert again.exit_code == 1 and "already holds a register" in again.stderr


def test_init_with_a_norwegian_policy_file(cli: Cli) -> None:
    result = cli("init", "--name", "Rennebu kommune", "--policy", str(default_policy("NO")),
                 "--org-number", "964 903 123")
    assert result.exit_code == 0, result.stderr
    assert cli("case", "open", "--title", "Henvendelse").stdout.strip() == "2026/1"


@pytest.mark.parametrize(("args", "reason"), [
    (["--policy", "{NO}", "--country", "SE"], "--country SE contradicts the policy"),
    (["--policy", "{NO}", "--prefix", "KS"], "has no prefix"),
    (["--policy", "{SE}", "--prefix", "BUN"], "--prefix BUN contradicts the policy's prefix 'KS'"),
    (["--policy", "{SE}", "--timezone", "Europe/Oslo"], "contradicts the policy's time zone Europe/Stockholm"),
    (["--country", "SE", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--country", "SE", "--prefix", "K S"], "'K S' is not in the expected form"),
    (["--country", "SE", "--org-number", "212000-1768"], "not a valid Swedish organisationsnummer"),
    ([], "give --policy FILE, or --country SE|NO"),
])
def test_init_flags_that_contradict_the_policy_are_misuse(cli: Cli, args: list[str], reason: str) -> None:
    paths = {"{SE}": str(default_policy("SE")), "{NO}": str(default_policy("NO"))}
    result = cli("init", "--name", "X", *[paths.get(a, a) for a in args])
    assert result.exit_code == 2, result.stdout + result.stderr
    assert reason in result.stderr


def test_a_malformed_policy_at_init_names_the_key(cli: Cli, tmp_path: Path) -> None:
    text = default_policy("SE").read_text(encoding="utf-8").replace('default_class = "1.4.3"', 'default_class = "x"')
    bad = tmp_path / "policy.toml"
    bad.write_text(text, encoding="utf-8")
    result = cli("init", "--name", "X", "--policy", str(bad))
    assert result.exit_code == 1
    assert "register.default_class: 'x' is not among register.classes" in result.stderr


def test_case_open_prints_the_diary_number_and_list_json_is_an_array(ready: Cli) -> None:
    assert ready("case", "open", "--title", "Snöröjning").stdout.strip() == "KS 2026/0001"
    secret = ready("case", "open", "--title", "Hemtjänst för 19121212-1212", "--confidential", "osl-26-1")
    assert secret.stdout.strip() == "KS 2026/0002"
    listed = json.loads(ready("case", "list", "--json").stdout)
    assert isinstance(listed, list) and len(listed) == 2
    assert all(set(case) >= CASE_KEYS for case in listed)
    assert listed[1]["confidentiality"] == "OSL 26 kap. 1 §"
    assert listed[1]["public_title"] == "Sekretessmarkerat ärende"
    assert listed[0]["confidentiality"] is None and listed[0]["closed_at"] is None
    table = ready("case", "list").stdout
    assert "KS 2026/0001" in table and "[confidential]" in table


def test_case_show_json_carries_its_records(ready: Cli, tmp_path: Path) -> None:
    ready("case", "open", "--title", "Klagomål")
    attachment = tmp_path / "kommentar.txt"
    attachment.write_text("Gångbanan är inte sandad", encoding="utf-8")
    added = ready("record", "add", "KS 2026/0001", "--direction", "in", "--description", "Kommentar",
                  "--from", "Kalle", "--file", str(attachment))
    assert added.exit_code == 0, added.stderr
    assert added.stdout.strip() == "KS 2026/0001-1"
    ready("record", "add", "ks 2026/1", "--direction", "out", "--description", "Svar", "--to", "Kalle")
    shown = json.loads(ready("case", "show", "KS 2026/0001", "--json").stdout)
    assert CASE_KEYS | {"records"} <= set(shown)
    first, second = shown["records"]
    assert (first["number"], first["direction"], second["direction"]) == ("KS 2026/0001-1", "incoming", "outgoing")
    assert first["correspondents"] == [{"role": "sender", "name": "Kalle", "address": None}]
    assert first["documents"][0]["original_name"] == "kommentar.txt"
    assert first["documents"][0]["format"] == "txt"
    human = ready("case", "show", "KS 2026/0001").stdout
    assert "Kommentar" in human and "from Kalle" in human


def test_close_reopen_update_and_mark_through_the_cli(ready: Cli) -> None:
    ready("case", "open", "--title", "x")
    assert ready("case", "update", "KS 2026/0001", "--status", "in_progress").exit_code == 0
    assert ready("case", "close", "KS 2026/0001").stdout.strip() == "KS 2026/0001 closed"
    refused = ready("record", "add", "KS 2026/0001", "--direction", "in", "--description", "late")
    assert refused.exit_code == 1 and "closed" in refused.stderr
    assert ready("case", "reopen", "KS 2026/0001").exit_code == 2  # --reason is required
    assert ready("case", "reopen", "KS 2026/0001", "--reason", "new facts").exit_code == 0
    marked = ready("case", "mark", "KS 2026/0001", "--ground", "OSL 26 kap. 1 §")
    assert "marked confidential under OSL 26 kap. 1 §" in marked.stdout
    assert ready("case", "mark", "KS 2026/0001").exit_code == 2


@pytest.mark.parametrize(("args", "message"), [
    (["case", "show", "KS 2026/0099"], "no case 'KS 2026/0099' in the register"),
    (["case", "show", "BUN 12"], "is not a diary number of this register"),
    (["case", "close", "KS 2026/0099"], "no case 'KS 2026/0099'"),
    (["case", "open", "--title", "x", "--class", "7.7"], "no class '7.7' in the filing plan"),
    (["record", "add", "KS 2026/0001", "--direction", "in", "--description", "x", "--file", "/no/such.pdf"],
     "no such file: /no/such.pdf"),
])
def test_failures_exit_1_with_one_line_naming_the_problem(ready: Cli, args: list[str], message: str) -> None:
    ready("case", "open", "--title", "x")
    result = ready(*args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unknown_users_are_refused_once_a_register_has_users(ready: Cli) -> None:
    result = ready("case", "list", user="mallory")
    assert result.exit_code == 1 and "unknown user 'mallory'" in result.stderr
    added = ready("users", "add", "erik", "--role", "officer", "--full-name", "Erik Lund", "--title", "Handläggare")
    assert added.exit_code == 0
    assert ready("case", "open", "--title", "by erik", user="erik").exit_code == 0
    users = json.loads(ready("users", "list", "--json").stdout)
    assert [(u["username"], u["roles"]) for u in users] == [("anna", ["admin", "registrar"]), ("erik", ["officer"])]
    denied = ready("users", "add", "eve", "--role", "admin", user="erik")
    assert denied.exit_code == 1 and "may not user.manage" in denied.stderr


def test_an_empty_or_unreachable_database_is_named(cli: Cli) -> None:
    empty = cli("case", "list")
    assert empty.exit_code == 1 and "no register in" in empty.stderr and "smcase init" in empty.stderr
    runner = CliRunner()
    down = runner.invoke(create_cli(), ["--db", "postgresql://smcase:s3cret@127.0.0.1:9/x", "case", "list"])
    assert down.exit_code == 1
    assert "cannot reach database postgresql+psycopg://smcase:***@127.0.0.1:9/x" in down.stderr
    assert "s3cret" not in down.stderr
    nowhere = runner.invoke(create_cli(), ["--db", "/no/such/folder/x.db", "case", "list"])
    assert nowhere.exit_code == 1 and "folder /no/such/folder does not exist" in nowhere.stderr


def test_class_add_and_list(ready: Cli) -> None:
    assert ready("class", "add", "2.3.1", "Bygglov").stdout.strip() == "class 2.3.1 added"
    assert ready("class", "add", "2.3.1", "Igen").exit_code == 1
    codes = [c["code"] for c in json.loads(ready("class", "list", "--json").stdout)]
    assert codes == ["1.4.3", "1.4.4", "1.4.5", "2.3.1"]
    assert ready("case", "open", "--title", "Bygglov", "--class", "2.3.1").exit_code == 0


def test_db_upgrade_is_idempotent_and_info_shows_the_register(ready: Cli) -> None:
    result = ready("db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.stdout
    info = json.loads(ready("info", "--json").stdout)
    assert info["name"] == "Torsby kommun" and info["org_number"] == "212000-1769" and info["country"] == "SE"


def test_demo_builds_a_register_with_real_numbers(tmp_path: Path) -> None:
    for country, first in (("SE", "KS 2026/0001"), ("NO", "2026/1")):
        folder = tmp_path / country
        result = CliRunner().invoke(create_cli(), ["demo", "--dir", str(folder), "--country", country])
        assert result.exit_code == 0, result.stderr
        assert first in result.stdout and "chain verifies" in result.stdout
        assert (folder / "smcase.db").exists()
        again = CliRunner().invoke(create_cli(), ["demo", "--dir", str(folder)])
        assert again.exit_code == 1 and "exists already" in again.stderr  # the operation failed


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # through get_command: the root group loads its built-ins lazily
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize(("name", "command"), _commands(create_cli()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_and_option_has_help_text(name: str, command: click.Command) -> None:
    assert command.help, f"'smcase {name}' has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help",):
            assert param.help, f"'smcase {name}' option {param.opts[0]} has no help text"


def test_the_listed_short_help_is_each_commands_own() -> None:
    """`smcase --help` lists built-ins from BUILTIN_COMMANDS without importing them: the text must not drift."""
    from smcase.cli import BUILTIN_COMMANDS

    cli = create_cli()
    ctx = click.Context(cli)
    for name, (_module, _attribute, short_help) in BUILTIN_COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=10_000) == short_help, name


def test_help_and_start_up_import_no_database_or_xml_layer() -> None:
    """Start-up budget (issue 15): `smcase --help` must not import SQLAlchemy, alembic, lxml or the exporters."""
    import subprocess
    import sys

    probe = ("import sys\nfrom click.testing import CliRunner\nfrom smcase.cli import create_cli\n"
             "result = CliRunner().invoke(create_cli(), ['--help'])\nassert result.exit_code == 0, result.output\n"
             "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('sqlalchemy', 'alembic', 'lxml', 'psycopg', 'fastjsonschema', 'puremagic') "
             "or m.startswith(('smcase.register', 'smcase.export', 'smcase.validate', 'smcase.model')))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


@pytest.mark.parametrize("args", [
    ["ingest", "{X}"], ["policy", "check", "{X}"], ["policy", "show", "{X}"], ["validate", "{X}"],
    ["record", "add", "KS 2026/0001", "--direction", "in", "--description", "Brev", "--file", "{X}"],
    ["snapshot", "add", "1", "{X}"], ["channel", "propose", "--plan", "{X}"], ["audit", "verify", "--checkpoint", "{X}"],
    ["init", "--name", "Ny kommun", "--policy", "{X}"],
], ids=lambda a: " ".join(a[:2]))
def test_a_missing_input_file_is_a_failed_operation_in_every_command(ready: Cli, tmp_path: Path,
                                                                    args: list[str]) -> None:
    """One exit-code convention (README, Errors): 1 when the operation failed, a missing file included; 2 misuse."""
    missing = str(tmp_path / "saknas.toml")
    result = ready(*[missing if a == "{X}" else a for a in args])
    assert result.exit_code == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: no such file: {missing}"


def test_long_operations_report_progress_on_stderr_unless_quiet(ready: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a terminal, progress is a plain line every SMCASE_PROGRESS_SECONDS (so a log shows it); --quiet: none."""
    monkeypatch.setenv("SMCASE_PROGRESS_SECONDS", "0")
    verified = ready("audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    lines = verified.stderr.splitlines()
    assert lines and all(line.startswith("verifying entries and rows: ") and "/s)" in line for line in lines)
    total = lines[-1].split(" of ")[1].split(" ")[0]
    assert lines[-1].startswith(f"verifying entries and rows: {total} of {total} (")  # it ends at the total
    quiet = ready("audit", "verify", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == verified.stdout


def test_a_misspelt_command_is_answered_with_the_nearest_names() -> None:
    from click.testing import CliRunner

    from smcase.cli import create_cli

    result = CliRunner().invoke(create_cli(), ["inobx", "list"])
    assert result.exit_code == 2 and "No such command 'inobx'. Did you mean 'inbox'" in result.output
    far = CliRunner().invoke(create_cli(), ["frobnicate"])
    assert far.exit_code == 2 and "Did you mean" not in far.output


def test_progress_rates_count_from_the_stage_s_start_and_a_bad_interval_is_named(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import itertools
    import time

    from smcase.cli.output import ProgressReporter

    # Created at 100; the first report (after a batch of 5,000) and its rate at 102; the next at 104.
    clock = itertools.chain([100.0, 102.0, 102.0, 104.0], itertools.repeat(104.0))
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    monkeypatch.setenv("SMCASE_PROGRESS_SECONDS", "0")
    reporter = ProgressReporter()
    reporter("reading", 5000)
    reporter("reading", 10000)
    assert capsys.readouterr().err.splitlines() == ["reading: 5,000 (2,500/s)", "reading: 10,000 (2,500/s)"]
    monkeypatch.setenv("SMCASE_PROGRESS_SECONDS", "soon")
    ProgressReporter()
    assert capsys.readouterr().err == "warning: SMCASE_PROGRESS_SECONDS='soon' is not a number of seconds: using 10\n"


def test_an_empty_list_says_so_instead_of_printing_a_bare_header(ready: Cli) -> None:
    shown = ready("audit", "log", "--actor", "nobody-at-all")
    assert shown.exit_code == 0 and shown.stdout.strip() == "Nothing to show."
