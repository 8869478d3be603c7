"""The policy set in force, and reloading it when its files change or on SIGHUP.

A reload that fails to load or check keeps the last good set serving (fail-static):
an outage of the webhook, or every request allowed, would both be worse than
enforcing yesterday's policies. The failure shows in ``/readyz``, the logs and the
``regie_policy_reload_failures_total`` metric until a reload succeeds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from regie.connectors.base import Ownership
from regie.dsl import ast
from regie.dsl.diagnostics import Diagnostic, render
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import PolicySet
from regie.engine.waivers import Waiver
from regie.loading import (
    InputError,
    apply_enforcement,
    load_catalogs,
    load_config,
    load_modules,
    load_waivers,
    policy_files,
)

__all__ = ["LoadError", "PolicyHolder", "PolicySnapshot", "load_snapshot"]

log = logging.getLogger("regie.service.reload")


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """One loaded, checked and compiled policy set with everything it decides with."""

    policy_set: PolicySet
    catalogs: Catalogs
    waivers: tuple[Waiver, ...]
    hash: str
    loaded_at: dt.datetime
    files: tuple[str, ...]
    #: The policies an admission review is decided with: all but the estate-wide ones
    #: (``scope estate``: concentration and the like), which one object cannot inform.
    admission_policies: frozenset[str] = frozenset()
    #: Which labels carry the ownership facts (``[ownership]`` of the configuration).
    ownership: Ownership = field(default_factory=Ownership)


class LoadError(Exception):
    """The policy files, catalogues, waivers or configuration did not load or check."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(problems[0] if problems else "policy set did not load")


@dataclass(slots=True)
class ReloadStatus:
    """The outcome of the last reload attempt, for /readyz."""

    ok: bool = True
    at: dt.datetime | None = None
    problems: tuple[str, ...] = ()
    attempts: int = 0
    failures: int = 0


def load_snapshot(policies: Sequence[str], catalogs: Sequence[str], config: str | None) -> PolicySnapshot:
    """Load everything a decision rests on; every problem found, or a snapshot."""
    from regie.store.hashing import policy_set_hash  # the store's hash, so records and replays agree

    try:
        cfg = load_config(config)
        modules, diags = load_modules(policies)
        ids = [item.id for m in modules for item in m.items if isinstance(item, ast.Policy)]
        result = PolicySet.build(modules, params=cfg.params(ids))
        if isinstance(result, list):
            diags = [*diags, *result]
        if diags:
            raise LoadError([render(d) for d in sorted(diags, key=Diagnostic.sort_key)])
        assert isinstance(result, PolicySet)
        apply_enforcement(result.policies, cfg)
        cats = load_catalogs([*cfg.catalogs, *catalogs])
        waivers = tuple(load_waivers(cfg.waivers))
    except InputError as err:
        raise LoadError([f"{err.where}: {err.message}"]) from None
    files = watched_files(policies, [*cfg.catalogs, *catalogs], config, cfg.waivers)
    return PolicySnapshot(
        result,
        cats,
        waivers,
        policy_set_hash(result, cats, cfg.ownership),
        dt.datetime.now(dt.UTC),
        tuple(files),
        frozenset(lp.id for lp in result.policies if lp.checked.meta.scope != "estate"),
        cfg.ownership,
    )


def watched_files(
    policies: Sequence[str], catalogs: Sequence[str], config: str | None, waivers: str | None
) -> list[str]:
    """Every file whose change should reload the set: policies, catalogues, configuration, waivers."""
    out: list[str] = []
    try:
        out.extend(str(p) for p in policy_files(policies))
    except InputError:
        out.extend(policies)  # a folder that vanished: its absence is the change to notice
    for raw in catalogs:
        path = Path(raw)
        if path.is_dir():
            out.extend(str(p) for p in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            out.append(raw)
    out.extend(p for p in (config or ("regie.toml" if Path("regie.toml").is_file() else None), waivers) if p)
    return out


def _fingerprint(files: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for f in files:
        try:
            st = Path(f).stat()
            out.append((f, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((f, -1, -1))
    return tuple(out)


def _extend(
    before: tuple[tuple[str, int, int], ...], files: Sequence[str]
) -> tuple[tuple[str, int, int], ...]:
    """``before`` (taken before loading, so a change made while loading shows at the next poll),
    plus the files the load itself discovered (a waivers file named in the configuration)."""
    known = {f for f, _, _ in before}
    return tuple(sorted([*before, *_fingerprint([f for f in set(files) if f not in known])]))


@dataclass
class PolicyHolder:
    """The snapshot in force, swapped atomically; a watcher thread reloads it on change."""

    policies: Sequence[str]
    catalogs: Sequence[str] = ()
    config: str | None = None
    on_loaded: Callable[[PolicySnapshot], None] = lambda _: None
    on_failed: Callable[[Sequence[str]], None] = lambda _: None
    status: ReloadStatus = field(default_factory=ReloadStatus)
    _current: PolicySnapshot | None = None
    _fingerprint: tuple[tuple[str, int, int], ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def current(self) -> PolicySnapshot:
        snapshot = self._current
        if snapshot is None:
            raise RuntimeError("no policy set loaded yet")
        return snapshot

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def load(self) -> PolicySnapshot:
        """The first load: a failure here is an error for the caller (nothing to fall back on)."""
        before = _fingerprint(self._files())
        snapshot = load_snapshot(self.policies, self.catalogs, self.config)
        self._install(snapshot, _extend(before, snapshot.files))
        return snapshot

    def reload(self) -> bool:
        """Load again; on failure keep the set in force. True when a new set is in force."""
        with self._lock:
            self.status.attempts += 1
            before = _fingerprint(self._files())
            try:
                snapshot = load_snapshot(self.policies, self.catalogs, self.config)
            except LoadError as err:
                self._fingerprint = before  # do not retry the same broken files every poll
                self.status = ReloadStatus(
                    False,
                    dt.datetime.now(dt.UTC),
                    err.problems,
                    self.status.attempts,
                    self.status.failures + 1,
                )
                log.error(
                    "policy reload failed; the last good policy set keeps serving",
                    extra={
                        "problems": list(err.problems[:5]),
                        "policy_set_hash": self._current.hash if self._current else None,
                    },
                )
                self.on_failed(err.problems)
                return False
            except Exception as err:  # a bug while loading must not stop the watcher
                self._fingerprint = before
                problem = f"internal error: {type(err).__name__}: {err}"
                self.status = ReloadStatus(
                    False, dt.datetime.now(dt.UTC), (problem,), self.status.attempts, self.status.failures + 1
                )
                log.exception("policy reload failed; the last good policy set keeps serving")
                self.on_failed([problem])
                return False
            # The fingerprint from before loading: a change made while loading shows at the next poll.
            self._install(snapshot, _extend(before, snapshot.files))
            return True

    def changed(self) -> bool:
        return _fingerprint(self._files()) != self._fingerprint

    def _files(self) -> list[str]:
        """The files to watch: those the options name now, and those the set in force was read from."""
        files = watched_files(self.policies, self.catalogs, self.config, None)
        if self._current is not None:
            files = [*files, *self._current.files]
        return sorted(set(files))

    def request_reload(self) -> None:
        """Ask the watcher to reload now (from a SIGHUP handler: only sets an event)."""
        self._wake.set()

    def start_watching(self, interval: float) -> None:
        """Poll the files every ``interval`` seconds (0: only on request) in a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._watch, args=(interval,), name="regie-policy-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _watch(self, interval: float) -> None:
        while not self._stop.is_set():
            requested = self._wake.wait(interval if interval > 0 else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if requested or self.changed():
                    log.info("reloading policies", extra={"reason": "signal" if requested else "file change"})
                    self.reload()
            except Exception:  # pragma: no cover - the watcher must outlive any one bad poll
                log.exception("policy watcher failed; retrying")
                time.sleep(interval or 1)

    def _install(self, snapshot: PolicySnapshot, fingerprint: tuple[tuple[str, int, int], ...]) -> None:
        previous = self._current
        self._current = snapshot
        self._fingerprint = fingerprint
        self.status = ReloadStatus(True, snapshot.loaded_at, (), self.status.attempts, self.status.failures)
        log.info(
            "policy set loaded",
            extra={
                "policies": len(snapshot.policy_set.policies),
                "policy_set_hash": snapshot.hash,
                "previous_hash": previous.hash if previous else None,
            },
        )
        self.on_loaded(snapshot)
