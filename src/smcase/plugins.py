"""The plugin manager: loads plugins one by one, names failures, calls hooks safely.

``create_plugins()`` builds a fresh manager (there is no module-level one):

* the built-ins from ``BUILTINS`` (adapters, classifiers, the decision),
* every entry point in the group ``smcase`` (``pip install`` a plugin),
* the modules named in ``SMCASE_PLUGINS`` (comma-separated import paths),

minus the names in ``SMCASE_DISABLE_PLUGINS`` (which is also how a built-in
is replaced). A plugin that fails to import, does not fit the hook contract or
implements a hook that does not exist is left out and reported by name; the
others keep working, and ``smcase plugins`` shows the error.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import ConfigError, InvalidInput
from .events import Action, Adapter, Decision, Finding, SocialEvent
from .identity import scrub

if TYPE_CHECKING:
    import click

    from .policy import Policy

ENTRY_POINT_GROUP = "smcase"

#: The built-in plugins, registered exactly like third-party ones: (name, module).
BUILTINS: tuple[tuple[str, str], ...] = (
    ("smcase-jsonl", "smcase.builtin.jsonl"),
    ("smcase-mastodon", "smcase.builtin.mastodon"),
    ("smcase-mastodon-api", "smcase.builtin.mastodon_api"),
    ("smcase-facebook-webhook", "smcase.builtin.facebook_webhook"),
    ("smcase-facebook-dyi", "smcase.builtin.facebook_dyi"),
    ("smcase-x-archive", "smcase.builtin.x_archive"),
    ("smcase-identity-numbers", "smcase.builtin.identity_numbers"),
    ("smcase-prohibited-terms", "smcase.builtin.prohibited"),
    ("smcase-complaints", "smcase.builtin.complaints"),
    ("smcase-routing", "smcase.builtin.routing"),
    ("smcase-decision", "smcase.builtin.decision"),
)


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``smcase plugins`` shows it."""

    name: str
    version: str
    source: str  # builtin | entry point | SMCASE_PLUGINS
    hooks: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "version": self.version, "source": self.source, "hooks": list(self.hooks),
                "error": self.error}


@dataclass(frozen=True)
class Failure:
    """A plugin that raised while handling something: its name and the reason."""

    plugin: str
    reason: str


@dataclass
class Plugins:
    """A loaded set of plugins and safe ways to call them."""

    manager: pluggy.PluginManager
    infos: list[PluginInfo] = field(default_factory=list)
    _cache: dict[str, list[tuple[str, Any]]] = field(default_factory=dict, repr=False)

    # -- what is loaded --------------------------------------------------------------

    def info(self) -> list[PluginInfo]:
        """Every plugin that was found, loaded or not, with its hooks and any load error."""
        loaded = {info.name: info for info in self.infos if info.error is None}
        out: list[PluginInfo] = []
        for info in self.infos:
            if info.error is None and info.name in loaded:
                plugin = self.manager.get_plugin(info.name)
                hooks = tuple(sorted(h.name for h in self.manager.get_hookcallers(plugin) or ()))
                out.append(PluginInfo(info.name, info.version, info.source, hooks))
            else:
                out.append(info)
        return out

    def has_implementations(self, hook: str) -> bool:
        """True when at least one loaded plugin implements ``hook``."""
        return bool(getattr(self.manager.hook, hook).get_hookimpls())

    def _impls(self, hook: str) -> list[tuple[str, Any]]:
        # Same order pluggy uses: tryfirst first, trylast last, later registrations before earlier ones.
        # Cached: classify and decide run once per event on the ingest hot path.
        if hook not in self._cache:
            impls = reversed(getattr(self.manager.hook, hook).get_hookimpls())
            self._cache[hook] = [(impl.plugin_name, impl) for impl in impls]
        return self._cache[hook]

    @staticmethod
    def _call(impl: Any, kwargs: Mapping[str, Any]) -> Any:
        return impl.function(*[kwargs[name] for name in impl.argnames])

    # -- parse -----------------------------------------------------------------------

    def adapters(self) -> dict[str, tuple[str, Adapter]]:
        """Input formats by name, with the plugin that declares each.

        Raises ConfigError naming both plugins when two claim the same format.
        """
        found: dict[str, tuple[str, Adapter]] = {}
        for plugin, impl in self._impls("smcase_parse_adapters"):
            for adapter in self._call(impl, {}) or ():
                if adapter.name in found:
                    raise ConfigError(
                        f"plugins {found[adapter.name][0]!r} and {plugin!r} both declare the input format "
                        f"{adapter.name!r}; disable one with SMCASE_DISABLE_PLUGINS"
                    )
                found[adapter.name] = (plugin, adapter)
        return found

    def format_name(self, typed: str) -> str:
        """The input format ``typed`` names, in any case (``JSONL`` is ``jsonl``); InvalidInput lists the known."""
        adapters = self.adapters()
        wanted = typed.strip().casefold()
        found = next((name for name in adapters if name.casefold() == wanted), None)
        if found is None:
            raise InvalidInput(f"unknown input format {typed!r}; known: {', '.join(sorted(adapters))}")
        return found

    def adapter(self, name: str) -> Adapter:
        """The adapter for format ``name`` (in any case)."""
        return self.adapters()[self.format_name(name)][1]

    def recognise(self, head: bytes) -> list[str]:
        """The formats whose adapters recognise an input that starts with ``head`` (sorted)."""
        head = head.removeprefix(b"\xef\xbb\xbf")
        found = []
        for name, (_plugin, adapter) in self.adapters().items():
            try:
                if adapter.recognise is not None and adapter.recognise(head):
                    found.append(name)
            except Exception:  # noqa: BLE001  (a plugin's guess: one that fails simply does not claim the input)
                continue
        return sorted(found)

    # -- classify and decide ---------------------------------------------------------

    def classify(self, event: SocialEvent, policy: Policy) -> tuple[list[Finding], list[Failure]]:
        """Every classifier's findings, and the classifiers that raised (by name)."""
        return self.classify_all([event], policy)[0]

    def classify_all(self, events: Sequence[SocialEvent], policy: Policy) -> list[tuple[list[Finding], list[Failure]]]:
        """Per event: every classifier's findings, and the classifiers that raised on it (by name).

        Batch classifiers (``smcase_classify_events``) are called once for all ``events``; one that fails is
        asked again event by event, so that only the events it fails on hold a failure. Single-event
        classifiers (``smcase_classify_event``) are called per event.
        """
        results: list[tuple[list[Finding], list[Failure]]] = [([], []) for _ in events]
        for plugin, impl in self._impls("smcase_classify_events"):
            try:
                found = list(self._call(impl, {"events": list(events), "policy": policy}))
                if len(found) != len(events):
                    raise ValueError(f"returned {len(found)} lists of findings for {len(events)} events")
            except Exception:  # noqa: BLE001  (contained below, event by event)
                found = []
                for n, event in enumerate(events):
                    try:
                        (alone,) = self._call(impl, {"events": [event], "policy": policy})
                    except Exception as exc:  # a broken plugin must not lose the event
                        results[n][1].append(Failure(plugin, _event_reason(exc)))
                        alone = []
                    found.append(alone)
            for (findings, _failures), result in zip(results, found, strict=True):
                findings.extend(f if f.classifier else Finding(f.label, f.category, f.detail, plugin)
                                for f in result or ())
        single = self._impls("smcase_classify_event")
        if single:
            for event, (findings, failures) in zip(events, results, strict=True):
                kwargs = {"event": event, "policy": policy}
                for plugin, impl in single:
                    try:
                        result = self._call(impl, kwargs) or []
                    except Exception as exc:  # a broken plugin must not lose the event
                        failures.append(Failure(plugin, _event_reason(exc)))
                        continue
                    findings.extend(f if f.classifier else Finding(f.label, f.category, f.detail, plugin)
                                    for f in result)
        return results

    def decide(self, event: SocialEvent, findings: list[Finding], policy: Policy) -> tuple[Decision, Failure | None]:
        """The first decision any plugin makes; a decision plugin that raises holds the event."""
        kwargs = {"event": event, "findings": findings, "policy": policy}
        for plugin, impl in self._impls("smcase_decide_action"):
            try:
                decision = self._call(impl, kwargs)
            except Exception as exc:
                failure = Failure(plugin, _event_reason(exc))
                return Decision(Action.HOLD, f"decision plugin {plugin!r} failed: {failure.reason}"), failure
            if decision is not None:
                return decision, None
        return Decision(Action.HOLD, "no decision plugin is enabled"), None

    # -- notify, export, cli -----------------------------------------------------------

    def notify(self, hook: str, *, uncleared: Mapping[str, Any] | None = None, cleared: Sequence[str] = (),
               **kwargs: Any) -> list[Failure]:
        """Call every implementation of a notification hook; failures are returned, never raised.

        Plugins named in ``cleared`` (the policy's ``[notify] cleared``) receive
        ``kwargs``; every other plugin receives ``uncleared``, the same arguments
        as a user without clearance may see them (``kwargs`` when None: the
        caller passed only uncleared values).
        """
        failures = []
        for plugin, impl in self._impls(hook):
            try:
                self._call(impl, kwargs if plugin in cleared or uncleared is None else uncleared)
            except Exception as exc:
                # A cleared plugin saw withheld values, which its message may quote.
                failures.append(Failure(plugin, _event_reason(exc) if plugin in cleared else _reason(exc)))
        return failures

    def exporters(self) -> dict[str, tuple[str, hookspecs.Exporter]]:
        """Export formats by name, with the plugin that declares each (a clash names both)."""
        found: dict[str, tuple[str, hookspecs.Exporter]] = {}
        for plugin, impl in self._impls("smcase_export_formats"):
            for exporter in self._call(impl, {}) or ():
                if exporter.name in found:
                    raise ConfigError(f"plugins {found[exporter.name][0]!r} and {plugin!r} both declare the "
                                      f"export format {exporter.name!r}")
                found[exporter.name] = (plugin, exporter)
        return found

    def cli_commands(self) -> tuple[list[tuple[str, click.Command]], list[Failure]]:
        """Plugin commands with their plugin's name, and the plugins whose hook raised."""
        commands: list[tuple[str, click.Command]] = []
        failures: list[Failure] = []
        for plugin, impl in self._impls("smcase_cli_commands"):
            try:
                commands.extend((plugin, command) for command in self._call(impl, {}) or ())
            except Exception as exc:
                failures.append(Failure(plugin, _reason(exc)))
        return commands, failures


def _reason(exc: BaseException) -> str:
    # The exception's type and first line only, identity numbers scrubbed (a load error quotes no event).
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return scrub(f"{type(exc).__name__}: {first}") or "" if first else type(exc).__name__


def _event_reason(exc: BaseException) -> str:
    """Why a plugin failed on an event, without the exception's message.

    The message may quote the event (``ValueError(f"cannot read {event.text}")``), and the reason is shown to
    users who may not see the event's text; the type and the line that raised are enough to find the bug.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where} (message withheld: it may quote the event)"


def _names(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def create_plugins(env: Mapping[str, str] | None = None, extra: Sequence[tuple[str, object]] = ()) -> Plugins:
    """Build the plugin manager from the built-ins, entry points, ``SMCASE_PLUGINS`` and ``extra``.

    ``extra`` (name, plugin object) pairs are registered last; tests use it.
    """
    env = os.environ if env is None else env
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    disabled = set(_names(env.get("SMCASE_DISABLE_PLUGINS")))
    for name in disabled:
        manager.set_blocked(name)
    plugins = Plugins(manager)

    def add(name: str, source: str, version: str, load: Any) -> None:
        if name in disabled:
            plugins.infos.append(PluginInfo(name, version, source, error="disabled by SMCASE_DISABLE_PLUGINS"))
            return
        try:
            plugin = load()
            manager.register(plugin, name=name)
        except Exception as exc:
            plugins.infos.append(PluginInfo(name, version, source, error=f"cannot load: {_reason(exc)}"))
            return
        unknown = [h.name for h in manager.get_hookcallers(plugin) or () if h.spec is None]
        if unknown:
            manager.unregister(plugin)
            plugins.infos.append(PluginInfo(name, version, source,
                                            error=f"implements unknown hook {unknown[0]} (misspelled?)"))
            return
        plugins.infos.append(PluginInfo(name, version, source))

    from importlib.metadata import entry_points  # here, not at import: reading package metadata takes time

    from . import __version__

    for name, module in BUILTINS:
        add(name, "builtin", __version__, lambda module=module: importlib.import_module(module))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        version = str(ep.dist.version) if ep.dist else "unknown"
        add(ep.name, "entry point", version, ep.load)
    for module_name in _names(env.get("SMCASE_PLUGINS")):
        add(module_name, "SMCASE_PLUGINS", "unknown",
            lambda module_name=module_name: importlib.import_module(module_name))
    for name, plugin in extra:
        add(name, "registered", getattr(plugin, "__version__", "unknown"), lambda plugin=plugin: plugin)
    manager.check_pending()  # every remaining implementation has a spec
    for i, info in enumerate(plugins.infos):
        loaded = manager.get_plugin(info.name)
        if info.version == "unknown" and isinstance(loaded, ModuleType):
            plugins.infos[i] = PluginInfo(info.name, str(getattr(loaded, "__version__", "unknown")), info.source,
                                          info.hooks, info.error)
    return plugins
