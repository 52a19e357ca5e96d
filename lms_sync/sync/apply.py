"""Run a plan against Moodle: dependency order, a journal row around every write, batches, no duplicates.

For each batch of writes: the journal rows are committed ``pending`` first; after Moodle answers,
the mappings and ``done`` are committed in one transaction. If the process dies in between, the
rows stay ``pending`` and the next run's lookup (by idnumber, username or event marker) finds what
Moodle really holds, so it adopts instead of creating twice.

A create that times out is never blindly re-sent: the object is looked up first, adopted if
Moodle did create it, and only the missing ones are sent again. A failed action does not stop
the independent ones; its dependants (events and enrolments of a course that could not be
created, the enrolment of a user that could not be created, the group membership of a participant
who could not be enrolled) are skipped and reported. Adding or removing a group member is accepted
again by Moodle, so those writes are retried freely; a group create is looked up by its idnumber.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    LmsSyncError,
    MoodleError,
    MoodleUnavailable,
    NotFound,
    TransientError,
)
from ..markers import parse_cohort_idnumber, parse_marker
from ..moodle.batching import chunk_by_budget, partial_of
from ..moodle.client import MoodleClient
from ..moodle.models import CalendarEventsResult, WarningsResult
from ..moodle.probes import Finding
from ..store import Store
from .desired import Desired
from .journal import (
    Mapping,
    delete_mapping,
    in_doubt,
    journal_finish,
    journal_pending,
    load_state,
    resolve_in_doubt,
    save_mapping,
)
from .plan import (
    CATEGORY_REF,
    Action,
    Refusal,
    attendance_refusal,
    held_records_refusal,
    mass_delete_refusal,
    plan,
)
from .preflight import preflight
from .remote import Remote, lookup_events, read_remote

log = logging.getLogger("lms_sync.sync")

# Their keys are usernames, and Moodle's messages about them may quote a username or an email:
# logs name these actions by op, kind and Moodle id only (logs never carry personal data).
PERSONAL_KINDS = frozenset({"user", "enrolment", "group_member"})


class Abort(Exception):
    """Moodle cannot be used any more in this run (token refused, service off, wrong URL)."""

    def __init__(self, error: MoodleError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class ApplyResult:
    """What happened to each action."""

    done: list[Action] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)
    skipped: list[tuple[Action, str]] = field(default_factory=list)
    fatal: MoodleError | None = None

    def counts(self) -> dict[str, int]:
        """How many actions were done, failed and skipped."""
        return {"done": len(self.done), "failed": len(self.failed), "skipped": len(self.skipped)}

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some failed or skipped, 3 Moodle became unusable."""
        if self.fatal is not None:
            return EXIT_UNAVAILABLE
        return EXIT_PARTIAL if self.failed or self.skipped else EXIT_OK


class MoodleErrorFromWarning(MoodleError):
    """A per-item warning inside a successful answer, turned into this action's failure."""


def raise_first_warning(result: WarningsResult | CalendarEventsResult, wsfunction: str) -> None:
    """Raise the answer's first per-item warning as a MoodleErrorFromWarning; nothing when there is none."""
    if result.warnings:
        w = result.warnings[0]
        raise MoodleErrorFromWarning(f"{w.warningcode}: {w.message}", wsfunction=wsfunction, errorcode=w.warningcode)


def error_label(exc: BaseException) -> str:
    """An error as its class, Moodle error code and wsfunction: what may be logged about any action."""
    label = type(exc).__name__
    if isinstance(exc, MoodleError):
        label += f" [{exc.errorcode}]" if exc.errorcode else ""
        label += f" in {exc.wsfunction}" if exc.wsfunction else ""
    return label


@dataclass(frozen=True)
class Writer:
    """A write call in two parts, so the answer of a partly applied call can be read like a whole one."""

    send: Callable[[list[dict[str, Any]], bool], Any]  # (payload dicts, retry_safe) -> Moodle's answer
    ids: Callable[[list[dict[str, Any]], Any], list[int | None]]  # one Moodle id (None: unknown) per item

    def __call__(self, items: list[dict[str, Any]], safe: bool) -> list[int | None]:
        """Send the items and return their Moodle ids."""
        return self.ids(items, self.send(items, safe))


class Applier:
    """Executes one plan; ``ids`` holds the Moodle ids known so far, by ``(kind, key)``."""

    def __init__(self, client: MoodleClient, store: Store, desired: Desired, remote: Remote, run_id: int | None) -> None:
        """Seed the known ids from what the remote read found."""
        self.client = client
        self.store = store
        self.desired = desired
        self.run_id = run_id
        self.result = ApplyResult()
        self.ids: dict[tuple[str, str], int] = {}
        if remote.course is not None:
            self.ids[("course", desired.course.idnumber)] = remote.course.id
            if not remote.category_checked and remote.course.categoryid is not None:
                self.ids[("category", desired.category.idnumber)] = remote.course.categoryid
        if remote.category is not None:
            self.ids[("category", desired.category.idnumber)] = remote.category.id
        for username, user in remote.users.items():
            self.ids[("user", username)] = user.id
        # Events that existed before this run: a lookup after a lost answer must not mistake the
        # old event of a replace (same marker) for the new one. Likewise attendance sessions.
        self.known_event_ids = {e.id for e in remote.events}
        self.known_session_ids = {s.id for s in remote.attendance_sessions}
        if remote.attendance is not None and desired.attendance is not None:
            self.ids[("attendance", desired.attendance.key)] = remote.attendance.id
        for group in remote.groups:
            if (key := parse_cohort_idnumber(group.idnumber)) is not None:
                self.ids[("group", key)] = group.id

    # ------------------------------------------------------------------------------------- driver

    def run(self, actions: Sequence[Action]) -> ApplyResult:
        """Apply every action in dependency order; returns what was done, failed and skipped."""
        try:
            self._local([a for a in actions if not a.writes])
            for kind, op in (("category", "create"), ("category", "update"), ("course", "create"), ("course", "update"),
                             ("user", "create"), ("user", "update")):
                self._dispatch(kind, op, [a for a in actions if a.kind == kind and a.op == op])
            self._events([a for a in actions if a.kind == "event" and a.writes])
            self._attendance([a for a in actions if a.kind in ("attendance", "attendance_session") and a.writes])
            self._dispatch("enrolment", "enrol", [a for a in actions if a.kind == "enrolment" and a.op == "enrol"])
            self._dispatch("enrolment", "suspend", [a for a in actions if a.kind == "enrolment" and a.op == "suspend"])
            # Groups once the course exists; members once enrolled (Moodle takes only enrolled users).
            self._dispatch("group", "create", [a for a in actions if a.kind == "group" and a.op == "create"])
            self._dispatch("group_member", "remove", [a for a in actions if a.kind == "group_member" and a.op == "remove"])
            self._dispatch("group_member", "add", [a for a in actions if a.kind == "group_member" and a.op == "add"])
        except Abort as abort:
            self.result.fatal = abort.error
            done = {id(a) for a in self.result.done} | {id(a) for a, _ in self.result.failed + self.result.skipped}
            for action in actions:
                if id(action) not in done:
                    self.result.skipped.append((action, "not attempted: Moodle became unavailable"))
        return self.result

    def _dispatch(self, kind: str, op: str, actions: list[Action]) -> None:
        if not actions:
            return
        handler = getattr(self, f"_{op}_{kind}")
        handler(actions)

    def _local(self, actions: list[Action]) -> None:
        if not actions:
            return
        with self.store.transaction() as db:
            for action in actions:
                if action.op == "adopt":
                    save_mapping(db, self.desired.programme_id,
                                 Mapping(action.kind, action.key, int(action.moodle_id or 0), action.content_hash))
                    self.ids[(action.kind, action.key)] = int(action.moodle_id or 0)
                else:
                    delete_mapping(db, self.desired.programme_id, action.kind, action.key)
        self.result.done += actions

    # --------------------------------------------------------------------------- batch machinery

    def _batches(
        self,
        actions: list[Action],
        items: list[dict[str, Any]],
        list_key: str,
        write: Writer,
        record: Callable[[sqlite3.Connection, Action, int | None], None],
        *,
        lookup: Callable[[list[Action]], dict[str, int]] | None = None,
    ) -> None:
        """Send ``items`` in chunks under max_input_vars, journaling each chunk around its call."""
        budget = self.client.settings.max_input_vars
        start = 0
        for chunk in chunk_by_budget(list_key, items, budget):
            chunk_actions = actions[start : start + len(chunk)]
            start += len(chunk)
            self._one_batch(chunk_actions, chunk, write, record, lookup)

    def _one_batch(
        self,
        actions: list[Action],
        items: list[dict[str, Any]],
        write: Writer,
        record: Callable[[sqlite3.Connection, Action, int | None], None],
        lookup: Callable[[list[Action]], dict[str, int]] | None,
    ) -> None:
        with self.store.transaction() as db:
            rows = [journal_pending(db, self.desired.programme_id, self.run_id, a.op, a.kind, a.key) for a in actions]
        try:
            ids = write(items, lookup is None)  # retry_safe only for idempotent writes (no lookup needed)
        except MoodleError as exc:
            actions, items, rows = self._record_partial(exc, actions, items, rows, write, record)
            if not actions:
                return
            if isinstance(exc, TransientError):
                if lookup is None:
                    self._fail(actions, rows, exc)
                else:
                    self._resolve_after_timeout(actions, items, rows, write, record, lookup, exc)
            elif isinstance(exc, MoodleUnavailable):
                self._fail(actions, rows, exc)
                raise Abort(exc) from None
            elif len(actions) > 1:
                # A batch is all-or-nothing in Moodle: find the culprit by sending the items one by one.
                self._close_rows(rows, "failed", f"batch failed ({exc}); retried one by one")
                for action, item in zip(actions, items, strict=True):
                    self._one_batch([action], [item], write, record, lookup)
            else:
                self._fail(actions, rows, exc)
            return
        self._record(actions, rows, ids, record)

    def _record_partial(
        self,
        exc: MoodleError,
        actions: list[Action],
        items: list[dict[str, Any]],
        rows: list[int],
        write: Writer,
        record: Callable[[sqlite3.Connection, Action, int | None], None],
    ) -> tuple[list[Action], list[dict[str, Any]], list[int]]:
        """Record what a client call split in several chunks applied before failing; return the rest.

        ``_batches`` sizes each call to one chunk of the client, so this is a safety net: if the client
        ever splits a call (it counts fields differently), the chunks Moodle accepted must be recorded,
        or the one-by-one retry would create those events a second time.
        """
        partial = partial_of(exc)
        applied = len(partial.applied) if partial is not None else 0
        if partial is None or not applied:
            return actions, items, rows
        try:
            ids = write.ids(items[:applied], partial.done)
        except MoodleError:
            return actions, items, rows  # warnings in the applied part: handled with the rest (updates repeat safely)
        self._record(actions[:applied], rows[:applied], ids, record)
        return actions[applied:], items[applied:], rows[applied:]

    def _resolve_after_timeout(
        self,
        actions: list[Action],
        items: list[dict[str, Any]],
        rows: list[int],
        write: Writer,
        record: Callable[[sqlite3.Connection, Action, int | None], None],
        lookup: Callable[[list[Action]], dict[str, int]],
        exc: TransientError,
    ) -> None:
        # The create may have been applied before the answer was lost: look before sending again.
        log.warning("%s: no answer; looking the %d %s(s) up before sending again",
                    error_label(exc), len(actions), actions[0].kind)
        try:
            found = lookup(actions)
        except MoodleError as lookup_exc:
            self._fail(actions, rows, lookup_exc, detail=f"in doubt after {exc}; lookup failed")
            return
        present = [(a, r) for a, r in zip(actions, rows, strict=True) if a.key in found]
        self._record([a for a, _ in present], [r for _, r in present], [found[a.key] for a, _ in present], record)
        missing = [(a, i, r) for a, i, r in zip(actions, items, rows, strict=True) if a.key not in found]
        if not missing:
            return
        left, left_items, left_rows = [a for a, _, _ in missing], [i for _, i, _ in missing], [r for _, _, r in missing]
        try:
            ids = write(left_items, True)  # looked up: now safe to retry
        except MoodleError as again:
            left, _, left_rows = self._record_partial(again, left, left_items, left_rows, write, record)
            self._fail(left, left_rows, again)
            if isinstance(again, MoodleUnavailable) and not isinstance(again, TransientError):
                raise Abort(again) from None
            return
        self._record(left, left_rows, ids, record)

    def _record(
        self,
        actions: list[Action],
        rows: list[int],
        ids: Sequence[int | None],
        record: Callable[[sqlite3.Connection, Action, int | None], None],
    ) -> None:
        if not actions:
            return
        failed: list[tuple[Action, int]] = []
        with self.store.transaction() as db:
            for action, row, moodle_id in zip(actions, rows, ids, strict=True):
                if moodle_id is None and action.op in ("create", "replace"):
                    failed.append((action, row))
                    continue
                record(db, action, moodle_id)
                journal_finish(db, row, "done", f"moodle id {moodle_id}" if moodle_id else "")
                self.result.done.append(action)
        if failed:
            self._fail([a for a, _ in failed], [r for _, r in failed], None, detail="Moodle did not return it")

    def _fail(self, actions: list[Action], rows: list[int], exc: Exception | None, detail: str = "") -> None:
        message = detail or str(exc)
        if exc is not None and detail:
            message = f"{detail}: {exc}"
        self._close_rows(rows, "failed", message)
        for action in actions:
            if action.kind in PERSONAL_KINDS:
                # Neither the key (a username) nor Moodle's message (may quote a username or an email).
                user_id = action.moodle_id or self.ids.get(("user", action.key))
                target = f" (id {user_id})" if user_id else ""
                log.error("%s %s%s failed: %s", action.op, action.kind, target,
                          error_label(exc) if exc is not None else detail)
            else:
                log.error("%s %s %s failed: %s", action.op, action.kind, action.key, message)
            self.result.failed.append((action, message))

    def _close_rows(self, rows: list[int], state: str, detail: str) -> None:
        with self.store.transaction() as db:
            for row in rows:
                journal_finish(db, row, state, detail)

    def _skip(self, actions: list[Action], why: str) -> None:
        for action in actions:
            self.result.skipped.append((action, why))

    def _mapper(self, kind: str) -> Callable[[sqlite3.Connection, Action, int | None], None]:
        def record(db: sqlite3.Connection, action: Action, moodle_id: int | None) -> None:
            moodle_id = int(moodle_id if moodle_id is not None else action.moodle_id or 0)
            save_mapping(db, self.desired.programme_id, Mapping(kind, action.key, moodle_id, action.content_hash))
            self.ids[(kind, action.key)] = moodle_id

        return record

    def _course_id(self) -> int | None:
        return self.ids.get(("course", self.desired.course.idnumber))

    # ----------------------------------------------------------------------------- category/course

    def _create_category(self, actions: list[Action]) -> None:
        write = Writer(lambda items, safe: self.client.create_categories(items, retry_safe=safe),
                       lambda _items, created: [c.id for c in created])

        def lookup(_: list[Action]) -> dict[str, int]:
            found = self.client.get_categories(idnumber=self.desired.category.idnumber)
            return {c.idnumber: c.id for c in found if c.idnumber}

        self._batches(actions, [a.fields() for a in actions], "categories", write, self._mapper("category"),
                      lookup=lookup)

    def _update_category(self, actions: list[Action]) -> None:
        # Absolute values (the idnumber of an adopted category): safe to repeat.
        write = Writer(lambda items, safe: self.client.update_categories(items, retry_safe=safe),
                       lambda items, _answer: [int(i["id"]) for i in items])
        items = [{"id": a.moodle_id, **a.fields()} for a in actions]
        self._batches(actions, items, "categories", write, self._mapper("category"))

    def _resolve_category(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        if payload.get("categoryid") != CATEGORY_REF:
            return payload
        category_id = self.ids.get(("category", self.desired.category.idnumber))
        return None if category_id is None else {**payload, "categoryid": category_id}

    def _create_course(self, actions: list[Action]) -> None:
        payload = self._resolve_category(actions[0].fields())
        if payload is None:
            self._skip(actions, "skipped: the course category could not be created")
            return

        write = Writer(lambda items, safe: self.client.create_courses(items, retry_safe=safe),
                       lambda _items, created: [c.id for c in created])

        def lookup(_: list[Action]) -> dict[str, int]:
            found = self.client.get_courses_by_field("idnumber", self.desired.course.idnumber).courses
            return {c.idnumber: c.id for c in found if c.idnumber}

        self._batches(actions, [payload], "courses", write, self._mapper("course"), lookup=lookup)

    def _update_course(self, actions: list[Action]) -> None:
        payload = self._resolve_category(actions[0].fields())
        if payload is None:
            self._skip(actions, "skipped: the course category could not be created")
            return
        item = {"id": actions[0].moodle_id, **payload}

        def ids(_items: list[dict[str, Any]], result: WarningsResult) -> list[int | None]:
            raise_first_warning(result, "core_course_update_courses")
            return [actions[0].moodle_id]

        # Absolute values: safe to repeat.
        write = Writer(lambda items, safe: self.client.update_courses(items, retry_safe=safe), ids)
        self._batches(actions, [item], "courses", write, self._mapper("course"))

    # -------------------------------------------------------------------------------------- users

    def _create_user(self, actions: list[Action]) -> None:
        def ids(items: list[dict[str, Any]], answer: list[Any]) -> list[int | None]:
            created = {u.username: u.id for u in answer}
            return [created.get(i["username"]) for i in items]

        write = Writer(lambda items, safe: self.client.create_users(items, retry_safe=safe), ids)

        def lookup(batch: list[Action]) -> dict[str, int]:
            return {u.username: u.id for u in self.client.get_users_by_field("username", [a.key for a in batch])}

        self._batches(actions, [a.fields() for a in actions], "users", write, self._mapper("user"), lookup=lookup)

    def _update_user(self, actions: list[Action]) -> None:
        def ids(items: list[dict[str, Any]], result: WarningsResult) -> list[int | None]:
            raise_first_warning(result, "core_user_update_users")
            return [int(i["id"]) for i in items]

        # Absolute values: safe to repeat.
        write = Writer(lambda items, safe: self.client.update_users(items, retry_safe=safe), ids)
        items = [{"id": a.moodle_id, **a.fields()} for a in actions]
        self._batches(actions, items, "users", write, self._mapper("user"))

    # ------------------------------------------------------------------------------------- events

    def _events(self, actions: list[Action]) -> None:
        if not actions:
            return
        course_id = self._course_id()
        if course_id is None:
            self._skip(actions, "skipped: the course could not be created")
            return
        creates = [a for a in actions if a.op in ("create", "replace")]
        deletes = [a for a in actions if a.op == "delete"]
        replaced_before = len(self.result.done)

        def ids(items: list[dict[str, Any]], result: CalendarEventsResult) -> list[int | None]:
            if not result.events:
                raise_first_warning(result, "core_calendar_create_calendar_events")
            by_key = {}
            for event in result.events:
                found = parse_marker(event.description)
                if found:
                    by_key[found[1]] = event.id
            return [by_key.get((parse_marker(i["description"]) or ("", ""))[1]) for i in items]

        write = Writer(lambda items, safe: self.client.create_calendar_events(items, retry_safe=safe), ids)

        def lookup(batch: list[Action]) -> dict[str, int]:
            found: dict[str, int] = {}
            for event in lookup_events(self.client, course_id):
                marker = parse_marker(event.description)
                if event.id in self.known_event_ids:
                    continue
                if marker and marker[0] == self.desired.programme_id:
                    found.setdefault(marker[1], event.id)
            return found

        items = [{**a.fields(), "courseid": course_id, "eventtype": "course", "format": 1, "visible": 1} for a in creates]
        self._batches(creates, items, "events", write, self._mapper("event"), lookup=lookup)
        self.known_event_ids |= {i for (kind, _), i in self.ids.items() if kind == "event"}
        # The old event of each successful replace goes now; a failed replace keeps its old event.
        replaced = {id(a) for a in self.result.done[replaced_before:] if a.op == "replace"}
        deletes += [
            Action("delete", "event", a.key, "replaced", moodle_id=a.moodle_id)
            for a in creates
            if id(a) in replaced
        ]
        self._delete_events(deletes)

    def _delete_events(self, actions: list[Action]) -> None:
        if not actions:
            return

        def send(items: list[dict[str, Any]], safe: bool) -> None:
            try:
                self.client.delete_calendar_events([int(i["eventid"]) for i in items], retry_safe=safe)
            except NotFound:
                if len(items) > 1:
                    raise  # one missing id fails the batch: the one-by-one pass finds which
                # Already gone (deleted by hand, or our earlier delete whose answer was lost): done.

        write = Writer(send, lambda items, _answer: [int(i["eventid"]) for i in items])

        def record(db: sqlite3.Connection, action: Action, moodle_id: int | None) -> None:
            # Only the mapping pointing at this very event goes (a duplicate's delete keeps the kept one).
            delete_mapping(db, self.desired.programme_id, "event", action.key, moodle_id=action.moodle_id)

        # The items the client sends (with "repeat"), so a batch here is exactly one call's chunk there.
        items = [{"eventid": a.moodle_id, "repeat": 0} for a in actions]
        self._batches(actions, items, "events", write, record)

    # ------------------------------------------------------------------------ Attendance activity

    def _attendance(self, actions: list[Action]) -> None:
        if not actions:
            return
        course_id = self._course_id()
        want = self.desired.attendance
        if course_id is None or want is None:
            self._skip(actions, "skipped: the course could not be created")
            return
        creates = [a for a in actions if a.kind == "attendance"]
        if creates:
            self._create_attendance(creates, course_id)
        self._attendance_sessions([a for a in actions if a.kind == "attendance_session"], want.key)

    def _create_attendance(self, actions: list[Action], course_id: int) -> None:
        name = str(actions[0].fields()["name"])
        write = Writer(lambda _items, safe: [self.client.add_attendance(course_id, name, retry_safe=safe)],
                       lambda _items, ids: list(ids))

        def lookup(_: list[Action]) -> dict[str, int]:
            # Created before its answer was lost: the course now holds an Attendance activity of that name.
            for section in self.client.get_course_contents(course_id):
                for module in section.modules:
                    if module.modname == "attendance" and module.name == name and module.instance:
                        return {actions[0].key: int(module.instance)}
            return {}

        self._one_batch(actions, [{"name": name}], write, self._mapper("attendance"), lookup)

    def _attendance_sessions(self, actions: list[Action], key: str) -> None:
        if not actions:
            return
        instance = self.ids.get(("attendance", key))
        if instance is None:
            self._skip(actions, "skipped: the Attendance activity could not be created")
            return
        creates = [a for a in actions if a.op in ("create", "replace")]
        before = len(self.result.done)

        def send(items: list[dict[str, Any]], safe: bool) -> list[int]:
            item = items[0]
            return [self.client.add_attendance_session(instance, sessiontime=int(item["sessdate"]),
                                                       duration=int(item["duration"]),
                                                       description=str(item["description"]), retry_safe=safe)]

        def lookup(batch: list[Action]) -> dict[str, int]:
            found: dict[str, int] = {}
            for session in self.client.get_attendance_sessions(instance):
                marker = parse_marker(session.description)
                if session.id not in self.known_session_ids and marker and marker[0] == self.desired.programme_id:
                    found.setdefault(marker[1], session.id)
            return {a.key: found[a.key] for a in batch if a.key in found}

        write = Writer(send, lambda _items, ids: list(ids))
        for action in creates:  # one session per call: the plugin has no batch form
            self._one_batch([action], [action.fields()], write, self._mapper("attendance_session"), lookup)
        self.known_session_ids |= {i for (kind, _), i in self.ids.items() if kind == "attendance_session"}
        replaced = {id(a) for a in self.result.done[before:] if a.op == "replace"}
        deletes = [a for a in actions if a.op == "delete"]
        deletes += [Action("delete", "attendance_session", a.key, "replaced", moodle_id=a.moodle_id)
                    for a in creates if id(a) in replaced]

        def remove(items: list[dict[str, Any]], safe: bool) -> None:
            try:
                self.client.remove_attendance_session(int(items[0]["id"]), retry_safe=safe)
            except NotFound:
                pass  # already gone (removed by hand, or our earlier remove whose answer was lost): done

        def forget(db: sqlite3.Connection, action: Action, moodle_id: int | None) -> None:
            delete_mapping(db, self.desired.programme_id, "attendance_session", action.key,
                           moodle_id=action.moodle_id)

        # Removing an absent session answers NotFound, taken as done: safe to repeat.
        write_remove = Writer(remove, lambda items, _answer: [int(i["id"]) for i in items])
        for action in deletes:
            self._one_batch([action], [{"id": action.moodle_id}], write_remove, forget, None)

    # --------------------------------------------------------------------------------- enrolments

    def _enrol_enrolment(self, actions: list[Action]) -> None:
        self._enrolments(actions, suspend=False)

    def _suspend_enrolment(self, actions: list[Action]) -> None:
        self._enrolments(actions, suspend=True)

    def _enrolments(self, actions: list[Action], *, suspend: bool) -> None:
        course_id = self._course_id()
        if course_id is None:
            self._skip(actions, "skipped: the course could not be created")
            return
        ready, items = [], []
        for action in actions:
            user_id = action.moodle_id if suspend else self.ids.get(("user", action.key))
            if user_id is None:
                self._skip([action], "skipped: the user account could not be created")
                continue
            ready.append(action)
            items.append({"roleid": self.desired.role_id, "userid": user_id, "courseid": course_id,
                          **({"suspend": 1} if suspend else {})})

        # Enrolling sets absolute values (status, role): Moodle accepts it again, so it is safe to retry.
        write = Writer(lambda batch, _safe: self.client.enrol_users(batch, retry_safe=True),
                       lambda batch, _answer: [int(i["userid"]) for i in batch])

        def record(db: sqlite3.Connection, action: Action, moodle_id: int | None) -> None:
            if suspend:
                delete_mapping(db, self.desired.programme_id, "enrolment", action.key)
            else:
                save_mapping(db, self.desired.programme_id,
                             Mapping("enrolment", action.key, int(moodle_id or 0), action.content_hash))

        self._batches(ready, items, "enrolments", write, record)

    # ------------------------------------------------------------------------------------ cohorts

    def _create_group(self, actions: list[Action]) -> None:
        course_id = self._course_id()
        if course_id is None:
            self._skip(actions, "skipped: the course could not be created")
            return

        def ids(items: list[dict[str, Any]], created: list[Any]) -> list[int | None]:
            by_idnumber = {g.idnumber: g.id for g in created}
            return [by_idnumber.get(i["idnumber"]) for i in items]

        write = Writer(lambda items, safe: self.client.create_groups(items, retry_safe=safe), ids)

        def lookup(_: list[Action]) -> dict[str, int]:
            # Created before its answer was lost: the course now holds a group with the cohort's idnumber.
            groups = self.client.get_course_groups(course_id)
            return {key: g.id for g in groups if (key := parse_cohort_idnumber(g.idnumber)) is not None}

        items = [{"courseid": course_id, **a.fields()} for a in actions]
        self._batches(actions, items, "groups", write, self._mapper("group"), lookup=lookup)

    def _add_group_member(self, actions: list[Action]) -> None:
        self._group_members(actions, add=True)

    def _remove_group_member(self, actions: list[Action]) -> None:
        self._group_members(actions, add=False)

    def _group_members(self, actions: list[Action], *, add: bool) -> None:
        not_enrolled = {a.key for a, _ in self.result.failed + self.result.skipped if a.kind == "enrolment"}
        ready, items = [], []
        for action in actions:
            user_id = action.moodle_id or self.ids.get(("user", action.key))
            group_id = self.ids.get(("group", str(action.fields()["cohort"])))
            if user_id is None:
                self._skip([action], "skipped: the user account could not be created")
            elif group_id is None:
                self._skip([action], "skipped: the cohort's group could not be created")
            elif add and action.key in not_enrolled:
                self._skip([action], "skipped: the participant could not be enrolled")
            else:
                ready.append(action)
                items.append({"groupid": group_id, "userid": user_id})
        # Adding a member again, or removing a non-member, is accepted (recorded): safe to retry.
        send = self.client.add_group_members if add else self.client.delete_group_members
        write = Writer(lambda batch, _safe: send(batch, retry_safe=True),
                       lambda batch, _answer: [int(i["userid"]) for i in batch])

        def record(db: sqlite3.Connection, action: Action, moodle_id: int | None) -> None:
            pass  # membership is read from Moodle at every push: only the journal row is closed

        self._batches(ready, items, "members", write, record)


@dataclass
class PushOutcome:
    """A push from start to end: the plan, why it was refused (if it was) and what applying did."""

    actions: list[Action]
    dry_run: bool = False
    refusal: Refusal | None = None
    missing: list[Finding] = field(default_factory=list)  # capabilities the plan needs and the account lacks
    result: ApplyResult | None = None
    in_doubt: int = 0
    run_id: int | None = None

    @property
    def exit_code(self) -> int:
        """0 done (or a dry run whose plan may run), 1 refused (dry run too) or some failed, 3 Moodle unusable."""
        if self.result is not None:
            return self.result.exit_code
        # A dry run answers like the real push would, so scripts can check a plan with --dry-run.
        return EXIT_PARTIAL if self.refusal or self.missing else EXIT_OK

    def summary(self) -> dict[str, Any]:
        """Counts for the runs table and the closing line; ``failed_actions``/``skipped_actions`` name each."""
        counts: dict[str, int] = {}
        for action in self.actions:
            counts[action.op] = counts.get(action.op, 0) + 1
        out: dict[str, Any] = {"planned": counts, "in_doubt_resolved": self.in_doubt}
        if self.refusal:
            out["refused"] = str(self.refusal)
        if self.missing:
            out["missing_capabilities"] = [f.capability or f.check for f in self.missing]
        if self.result is not None:
            out.update(self.result.counts())
            out["failed_actions"] = [f"{a.op} {a.kind} {a.key}: {why}" for a, why in self.result.failed]
            out["skipped_actions"] = [f"{a.op} {a.kind} {a.key}: {why}" for a, why in self.result.skipped]
        return out


def push(
    client: MoodleClient,
    store: Store,
    desired: Desired,
    *,
    dry_run: bool = False,
    force_delete: bool = False,
    force_attendance: bool = False,
    max_deletes: int = 3,
) -> PushOutcome:
    """Read Moodle, plan, check the guards and the capabilities, and (unless dry-run) apply; records a run."""
    run_id = None if dry_run else store.start_run("push", programme_id=desired.programme_id)
    try:
        return _push(client, store, desired, run_id, dry_run=dry_run, force_delete=force_delete,
                     force_attendance=force_attendance, max_deletes=max_deletes)
    except LmsSyncError as exc:
        if run_id is not None:
            # Class and Moodle error code only: the CLI prints the message; the runs table gets no personal data.
            store.finish_run(run_id, "failed", exc.exit_code, {"error": error_label(exc)})
        raise
    except BaseException:
        # A bug (or Ctrl-C) must not leave the run "running" forever; what was written is in the journal.
        if run_id is not None:
            store.finish_run(run_id, "failed", EXIT_INTERNAL, {"error": "internal"})
        raise


def _push(
    client: MoodleClient,
    store: Store,
    desired: Desired,
    run_id: int | None,
    *,
    dry_run: bool,
    force_delete: bool,
    force_attendance: bool,
    max_deletes: int,
) -> PushOutcome:
    """The body of ``push`` once the run is recorded (``run_id`` is None for a dry run)."""
    doubtful = in_doubt(store, desired.programme_id)
    state = load_state(store, desired.programme_id)
    # The lookup by keys sees what in-doubt writes really did, so the plan adopts instead of duplicating.
    remote = read_remote(client, desired, state)
    actions = plan(desired, remote, state)
    outcome = PushOutcome(actions=actions, dry_run=dry_run, in_doubt=len(doubtful), run_id=run_id)
    outcome.refusal = attendance_refusal(remote)
    if outcome.refusal is None and not force_attendance:
        outcome.refusal = held_records_refusal(actions)
    if outcome.refusal is None and not force_delete:
        outcome.refusal = mass_delete_refusal(actions, desired, remote, state, max_deletes)
    if outcome.refusal is None:
        # A plan that would stop half-way for want of a capability stops before its first write.
        outcome.missing = preflight(client, actions, remote, desired.role_id)
    if dry_run:
        return outcome
    assert run_id is not None
    resolve_in_doubt(store, doubtful, run_id)
    if outcome.refusal is None and not outcome.missing:
        outcome.result = Applier(client, store, desired, remote, run_id).run(actions)
    code = outcome.exit_code
    status = "ok" if code == EXIT_OK else ("refused" if outcome.refusal or outcome.missing else "partial")
    store.finish_run(run_id, status, code, outcome.summary())
    return outcome
