"""The nightly run: push, then pull, for each live programme, then the feeds, recorded as one ``sync`` run.

Each stage's outcome, time and counts go into the run's summary; a stage that fails does not stop
the ones that can still do useful work (another programme, the feed, which needs no Moodle), and
the run's exit code is the worst stage's. With one programme the stages are ``push``, ``pull`` and
``feed``; with several, ``push <id>`` and ``pull <id>`` for each, then ``feed``. Each programme's
stages run under its own lock, so a run of one programme elsewhere makes only that one wait.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigError,
    LmsSyncError,
    MoodleUnavailable,
)
from .lock import programme_scope, run_lock
from .log import set_run_id
from .moodle.client import MoodleClient
from .program import Participant, Programme
from .publish import write_feed_files
from .pull import pull_completion
from .settings import Settings
from .store import Store, utcnow
from .sync import desired_state, push
from .sync.retire import plan_retirement, removed_programmes

log = logging.getLogger(__name__)


@dataclass
class Stage:
    """How one stage of the run went."""

    name: str
    status: str = "skipped"  # ok, partial, failed, skipped
    exit_code: int = EXIT_OK
    seconds: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    moodle_unusable: bool = False  # the error means later Moodle stages would fail the same way

    def as_dict(self) -> dict[str, Any]:
        """The stage as stored in the run summary."""
        data: dict[str, Any] = {"status": self.status, "exit_code": self.exit_code, "seconds": round(self.seconds, 3)}
        data.update(self.counts)
        if self.error:
            data["error"] = self.error
        return data

    def line(self) -> str:
        """The stage in the closing line."""
        detail = ", ".join(f"{k} {v}" for k, v in self.counts.items() if isinstance(v, int | str) and k != "run_id")
        return f"{self.name} {self.status}" + (f" ({detail})" if detail else "")


@dataclass
class DailyOutcome:
    """The whole run."""

    run_id: int
    stages: list[Stage]
    seconds: float

    @property
    def exit_code(self) -> int:
        """The worst stage's exit code."""
        return max((s.exit_code for s in self.stages), default=EXIT_OK)

    def summary_line(self) -> str:
        """One line for cron mail and the journal."""
        stages = "; ".join(stage.line() for stage in self.stages)
        return f"sync run {self.run_id}: {stages}; exit {self.exit_code} in {self.seconds:.1f} s"


def run_daily(
    settings: Settings,
    work: Sequence[tuple[Programme, list[Participant] | None]],
    every: Sequence[Programme],
    store: Callable[[], Store],
    moodle_client: Callable[[], MoodleClient],
    *,
    programme_id: str | None = None,
) -> DailyOutcome:
    """Push and pull each programme of ``work``, then write the feeds of ``every`` programme; one ``sync`` run.

    Raises LockHeld at once if another nightly run of the same scope is going (``programme_id``:
    the one ``--program`` named; None: all). ``store`` and ``moodle_client`` are opened only once
    that lock is held; ``moodle_client`` may raise ConfigError (no URL or token), which fails the
    Moodle stages and leaves the feed to run.
    """
    plans = [(p, desired_state(p, roster, settings.push)) for p, roster in work if not p.archived]
    with run_lock(settings.state_path, f"sync-{programme_id}" if programme_id else "sync"):
        store_ = store()
        started = time.monotonic()
        run_id = store_.start_run("sync", programme_id=programme_id)
        set_run_id(run_id)
        log.info("sync started")
        stages: list[Stage] = []
        client: MoodleClient | None = None
        several = len(work) > 1  # names stay the same when one of them is archived
        try:
            try:
                client = moodle_client() if plans else None
            except ConfigError as err:
                # No URL or token: one failure says it, every Moodle stage is skipped.
                stages.append(_failed(Stage("moodle" if several else "push"), err))
            for programme, desired in plans:
                suffix = f" {programme.id}" if several else ""
                if client is None or any(s.moodle_unusable for s in stages):
                    names = ("push", "pull") if several or not stages else ("pull",)
                    stages += [Stage(n + suffix, error="skipped: Moodle is not usable (see above)") for n in names]
                    continue
                stages += _programme_stages(client, store_, settings, programme, desired, suffix)
            if client is not None and programme_id is None and not any(s.moodle_unusable for s in stages):
                for gone in removed_programmes(store_, [p.id for p in every]):
                    stages.append(_stage(f"retire {gone}", functools.partial(_retire, client, store_, settings, gone)))
            stages.append(_stage("feed", lambda s: _feed(store_, settings, every, s)))
        finally:
            if client is not None:
                client.close()
        outcome = DailyOutcome(run_id, stages, time.monotonic() - started)
        status = "ok" if outcome.exit_code == EXIT_OK else ("failed" if outcome.exit_code > EXIT_PARTIAL else "partial")
        store_.finish_run(
            run_id, status, outcome.exit_code, {"stages": {s.name: s.as_dict() for s in stages}}, utcnow()
        )
        log.log(logging.INFO if outcome.exit_code == EXIT_OK else logging.WARNING, "%s", outcome.summary_line())
        return outcome


def _programme_stages(client: MoodleClient, store: Store, settings: Settings, programme: Programme, desired: Any,
                      suffix: str) -> list[Stage]:
    """Push then pull one programme under its own lock; a run of it elsewhere skips both (exit 4)."""
    try:
        with run_lock(settings.state_path, programme_scope(programme.id)):
            push_stage = _stage("push" + suffix, lambda s: _push(client, store, settings, desired, s))
            if push_stage.moodle_unusable:
                return [push_stage, Stage("pull" + suffix, error="skipped: Moodle is not usable (see push)")]
            cohorts = desired.cohorts is not None
            return [push_stage, _stage("pull" + suffix,
                                       lambda s: _pull(client, store, settings, programme, s, cohorts=cohorts))]
    except LmsSyncError as err:  # LockHeld: this programme is being run by someone else
        return [_failed(Stage("push" + suffix), err), _failed(Stage("pull" + suffix), err)]


def _stage(name: str, body: Callable[[Stage], None]) -> Stage:
    """Run one stage, turning its errors into the stage's outcome instead of ending the run."""
    stage = Stage(name)
    started = time.monotonic()
    try:
        body(stage)
    except LmsSyncError as err:
        _failed(stage, err)
    except Exception as exc:  # a bug in one stage must not stop the others, nor the run record
        log.exception("%s stage: internal error", name)
        stage.status, stage.exit_code, stage.error = "failed", EXIT_INTERNAL, f"internal error: {type(exc).__name__}"
    stage.seconds = time.monotonic() - started
    return stage


def _failed(stage: Stage, err: LmsSyncError) -> Stage:
    stage.status, stage.exit_code, stage.error = "failed", err.exit_code, str(err)
    stage.moodle_unusable = isinstance(err, MoodleUnavailable | ConfigError)
    log.error("%s stage failed: %s", stage.name, err)
    return stage


def _push(client: MoodleClient, store: Store, settings: Settings, desired: Any, stage: Stage) -> None:
    outcome = push(client, store, desired, max_deletes=settings.push.max_deletes)
    stage.exit_code = outcome.exit_code
    stage.status = "ok" if outcome.exit_code == EXIT_OK else "partial"
    stage.counts["run_id"] = outcome.run_id
    stage.counts["planned"] = len(outcome.actions)
    if outcome.result is not None:
        stage.counts["done"] = len(outcome.result.done)
        stage.counts["failed"] = len(outcome.result.failed)
        stage.counts["skipped"] = len(outcome.result.skipped)  # dependants of a failed action
        if outcome.result.fatal is not None:
            _failed(stage, outcome.result.fatal)
    if outcome.refusal:
        stage.error = f"refused: {outcome.refusal} ({outcome.refusal.hint})"
        log.error("push stage refused: %s", outcome.refusal)
    if outcome.missing:
        missing = ", ".join(f.capability or f.check for f in outcome.missing)
        stage.error = f"stopped before writing: the sync account lacks {missing} (see `lms-sync check`)"
        log.error("push stage %s", stage.error)


def _retire(client: MoodleClient, store: Store, settings: Settings, programme_id: str, stage: Stage) -> None:
    """The nightly run never deletes a removed programme's events: it says so until the admin decides."""
    with run_lock(settings.state_path, programme_scope(programme_id)):
        retirement = plan_retirement(client, store, programme_id, utcnow())
    stage.counts["to_delete"] = len(retirement.actions)
    refusal = retirement.refusal
    if refusal is None:
        stage.status = "ok"
        return
    stage.status, stage.exit_code = "partial", EXIT_PARTIAL
    stage.error = f"refused: {refusal} (run `lms-sync push --force-delete` to delete them)"
    log.error("%s stage %s", stage.name, stage.error)


def _pull(client: MoodleClient, store: Store, settings: Settings, programme: Programme, stage: Stage, *,
          cohorts: bool = False) -> None:
    result = pull_completion(client, store, programme, settings, cohorts=cohorts)
    stage.exit_code = result.exit_code
    stage.status = "ok" if result.complete else "partial"
    stage.counts.update(
        run_id=result.run_id, participants=result.participants, completed=result.completed, failed=result.failed
    )


def _feed(store: Store, settings: Settings, every: Sequence[Programme], stage: Stage) -> None:
    with run_lock(settings.state_path, "feed"):
        files = write_feed_files(every, store, settings.feed)
    combined = files[0]
    stage.status = "ok"
    stage.counts.update(events=combined.result.events, changed=len(combined.result.changed),
                        file="written" if combined.written else "unchanged")
    if len(files) > 1:
        stage.counts["files"] = len(files)
    for pid in combined.result.gone:
        log.warning("programme %s has no file any more: its sessions to come are cancelled in the feed", pid)
