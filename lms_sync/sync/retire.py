"""A programme whose file was removed: its sessions still to come leave Moodle's calendar, once the admin agrees.

Push knows such a programme from its mappings in the state store. Its course, users and
enrolments are never touched, and neither is the event of a session that has taken place
(history). Only the course events of its sessions still to come would be deleted, so participants'
Moodle calendars stop announcing them; that is every future event of the programme, so it waits for
``--force-delete`` like any plan that deletes all of a programme's events. An archived programme
(its file kept, ``status = "archived"``) is never touched at all: that is how to keep it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import NotFound
from ..markers import parse_marker
from ..moodle.client import MoodleClient
from ..store import Store
from .journal import (
    delete_mapping,
    in_doubt,
    journal_finish,
    journal_pending,
    load_state,
    programmes_with_mappings,
    resolve_in_doubt,
)
from .plan import Action, Refusal, RefusalKind
from .remote import lookup_events


@dataclass(frozen=True)
class Retirement:
    """What retiring one removed programme would do."""

    programme_id: str
    course_id: int | None
    actions: list[Action]  # deletes of the events of its sessions still to come

    @property
    def refusal(self) -> Refusal | None:
        """The guard: deleting a removed programme's events needs --force-delete."""
        if not self.actions:
            return None
        return Refusal(RefusalKind.MASS_DELETE, (
            f"programme {self.programme_id} has no file any more: push would delete the course events of its "
            f"{len(self.actions)} session(s) still to come (course {self.course_id}); to leave its course as it is, "
            "put its file back with status = \"archived\""), len(self.actions))


def removed_programmes(store: Store, current: list[str]) -> list[str]:
    """Programmes push wrote for that are no longer among the programme files."""
    return sorted(programmes_with_mappings(store) - set(current))


def plan_retirement(client: MoodleClient, store: Store, programme_id: str, now: datetime) -> Retirement:
    """Read the programme's course events and keep those of sessions still to come (found by their marker)."""
    state = load_state(store, programme_id)
    course = state.get("course", programme_id)
    if course is None:
        return Retirement(programme_id, None, [])
    try:
        events = lookup_events(client, course.moodle_id)
    except NotFound:
        return Retirement(programme_id, course.moodle_id, [])  # the course is gone: nothing to announce
    actions = []
    for event in sorted(events, key=lambda e: (e.timestart, e.id)):
        marker = parse_marker(event.description)
        if marker is None or marker[0] != programme_id or event.timestart <= now.timestamp():
            continue
        actions.append(Action("delete", "event", marker[1], "its programme was removed, the session is still to come",
                              moodle_id=event.id, destructive=True))
    return Retirement(programme_id, course.moodle_id, actions)


def retire(client: MoodleClient, store: Store, retirement: Retirement, run_id: int | None) -> int:
    """Delete the events, each journaled first and forgotten once gone; returns how many were deleted."""
    pid = retirement.programme_id
    resolve_in_doubt(store, in_doubt(store, pid), run_id)  # a delete is safe to send again
    done = 0
    for action in retirement.actions:
        assert action.moodle_id is not None
        with store.transaction() as db:
            row = journal_pending(db, pid, run_id, "delete", "event", action.key)
        try:
            client.delete_calendar_events([action.moodle_id], retry_safe=True)
        except NotFound:
            pass  # deleted by hand meanwhile: what was asked is done
        with store.transaction() as db:
            journal_finish(db, row, "done", f"moodle id {action.moodle_id}")
            delete_mapping(db, pid, "event", action.key, moodle_id=action.moodle_id)
        done += 1
    return done
