"""The pure planner: ``plan(desired, remote, state) -> list[Action]``, each action with its reason.

It reads no file, no clock and no network: the same inputs give the same plan, which makes the
plan printable (``--dry-run``), testable with plain data, and checkable by the mass-delete guard
before anything is written.

Calendar events have no update call in core Moodle apart from the event *form*
(``core_calendar_submit_create_update_form``), which reads times in the sync account's own
timezone and answers a bare ``validationerror`` on any problem. A changed or hand-edited event is
therefore *replaced*: the correct event is created (with its marker), then the old one deleted.
It uses only the two calls whose behaviour the fixtures pin down, sends Unix seconds (no timezone
guess), and a crash in between leaves two marked events that the next plan reduces to one.

Cohorts (a roster's cohort column) are course groups whose idnumber is ``lms-sync-cohort:<key>``;
a group without that prefix was made by hand and is never touched. Push creates a cohort's group,
adds the roster's participants of that cohort and removes from lms_sync's groups the roster's
participants who belong elsewhere. A participant leaving every cohort counts for the mass-delete
guard; one moving to another cohort does not (they stay in one). Members who are not in the roster
(a teacher added by hand, someone who left the roster: their enrolment is suspended) are left as
they are, and a group whose cohort left the roster is emptied of the roster's people, never
deleted: it may hold forum posts or submissions made in it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..markers import parse_cohort_idnumber, parse_marker
from ..moodle.models import AttendanceSession, CalendarEvent, Course
from .desired import Desired, DesiredAttendanceSession, DesiredCohort, DesiredEvent, content_hash
from .journal import State
from .remote import Remote

# Operations that change nothing in Moodle: only the state store is updated.
LOCAL_OPS = frozenset({"adopt", "forget"})
CATEGORY_REF = "$category"  # placeholder for the category id, known only once it exists


class RefusalKind(StrEnum):
    """Why a whole plan is refused before any write."""

    MASS_DELETE = "mass_delete"  # --force-delete lets it run
    HELD_RECORDS = "held_records"  # --force-attendance lets it run
    ATTENDANCE = "attendance"  # nothing lets it run: the programme must change


# What to do about each refusal, written once (the command line and the nightly log both say it).
REFUSAL_HINTS = {
    RefusalKind.MASS_DELETE: "check the programme and roster; if the deletions are intended, run "
                             "`lms-sync push --force-delete`",
    RefusalKind.HELD_RECORDS: "a session that took place keeps its date: fix the programme; to delete those "
                              "statuses anyway, run `lms-sync push --force-attendance`",
    RefusalKind.ATTENDANCE: "fix [attendance] in the programme, then run `lms-sync push` again",
}


@dataclass(frozen=True)
class Refusal:
    """A plan refused before any write: which guard refused it and why, with its data."""

    kind: RefusalKind
    reason: str
    count: int = 0

    def __str__(self) -> str:
        return self.reason

    @property
    def hint(self) -> str:
        """What the user should do."""
        return REFUSAL_HINTS[self.kind]


@dataclass(frozen=True)
class Action:
    """One step of a push. ``changes`` lists ``(field, old, new)``; ``payload`` the fields to send."""

    op: str  # create, adopt, update, replace, delete, forget, enrol, suspend, add, remove
    kind: str  # category, course, event, user, enrolment, attendance, attendance_session, group, group_member
    key: str
    reason: str
    moodle_id: int | None = None
    changes: tuple[tuple[str, Any, Any], ...] = ()
    payload: tuple[tuple[str, Any], ...] = ()
    content_hash: str = ""
    destructive: bool = False  # counted by the mass-delete guard
    statuses: int = 0  # attendance statuses (people's records) the action deletes: see held_records_refusal

    @property
    def writes(self) -> bool:
        """True when the action calls Moodle (adopt/forget only touch the state store)."""
        return self.op not in LOCAL_OPS

    def fields(self) -> dict[str, Any]:
        """The payload as a dict."""
        return dict(self.payload)


def _norm_html(text: str | None) -> str:
    # Moodle may re-serialise entities and whitespace; compare what a reader would see.
    return re.sub(r"\s+", " ", html.unescape(text or "")).strip()


def _diff(old: dict[str, Any], new: dict[str, Any], html_fields: tuple[str, ...] = ()) -> tuple[tuple[str, Any, Any], ...]:
    changes = []
    for name, wanted in new.items():
        if name not in old:
            continue  # Moodle did not report it: unknown, not different
        have = old[name]
        same = _norm_html(have) == _norm_html(wanted) if name in html_fields else have == wanted
        if not same:
            changes.append((name, have, wanted))
    return tuple(changes)


def _why_changed(mapping_hash: str | None, wanted_hash: str, what: str) -> str:
    if mapping_hash is None:
        return f"{what} differs from the programme"
    if mapping_hash == wanted_hash:
        return f"{what} was edited in Moodle; restoring the programme's values"
    return f"{what} changed in the programme"


def plan(desired: Desired, remote: Remote, state: State) -> list[Action]:
    """Compare desired state, Moodle and the mappings; return the actions in dependency order."""
    actions: list[Action] = []
    actions += _plan_category(desired, remote, state)
    actions += _plan_course(desired, remote, state)
    if desired.users is not None:
        actions += _plan_users(desired, remote, state)
    actions += _plan_events(desired, remote, state)
    if desired.attendance is not None:
        actions += _plan_attendance(desired, remote, state)
    if desired.users is not None:
        actions += _plan_enrolments(desired, remote, state)
    if desired.cohorts is not None:
        actions += _plan_cohorts(desired, remote, state)
    return actions


def _roster_ids(desired: Desired, remote: Remote) -> dict[int, str]:
    """The Moodle ids of the roster's participants who have an account, with their username."""
    names = {u.username for u in desired.users or ()}
    return {user.id: username for username, user in remote.users.items() if username in names}


def _cohort_hash(want: DesiredCohort) -> str:
    return content_hash({"name": want.name})


def _plan_cohorts(desired: Desired, remote: Remote, state: State) -> list[Action]:
    """Groups for the cohorts, then the members to add and to remove (see the module docstring)."""
    cohorts = desired.cohorts or ()
    actions: list[Action] = []
    ours = {key: g for g in remote.groups if (key := parse_cohort_idnumber(g.idnumber)) is not None}
    by_name = {html.unescape(g.name): g for g in remote.groups}
    for want in cohorts:
        group = ours.get(want.key)
        mapping = state.get("group", want.key)
        if group is None:
            # No group of this cohort in the course (new cohort, new course, or deleted by hand): create it.
            reason = "deleted in Moodle; recreating it" if mapping else f"new cohort {want.name!r}"
            clash = by_name.get(want.name)
            if clash is not None:
                # Moodle refuses a second group of that name: say which one holds it and what to do.
                made = "another cohort's" if parse_cohort_idnumber(clash.idnumber) else "made by hand"
                reason += (f"; but group {clash.id} ({made}) already has that name: rename it in Moodle, "
                           "or the cohort in the roster")
            actions.append(Action("create", "group", want.key, reason,
                                  payload=(("name", want.name), ("idnumber", want.idnumber), ("description", "")),
                                  content_hash=_cohort_hash(want)))
        elif mapping is None or mapping.moodle_id != group.id:
            # In the course but unknown to the store (lost store, in-doubt create): adopt it by its idnumber.
            actions.append(Action("adopt", "group", want.key, "found in Moodle by idnumber", moodle_id=group.id,
                                  content_hash=_cohort_hash(want)))

    wanted = {username: want.key for want in cohorts for username in want.members}
    roster_ids = _roster_ids(desired, remote)
    for want in cohorts:
        group = ours.get(want.key)
        members = remote.group_members.get(group.id, frozenset()) if group is not None else frozenset()
        for username in want.members:
            user = remote.users.get(username)
            if user is not None and user.id in members:
                continue
            # Not in their cohort's group yet (new participant, new cohort, moved, or removed by hand): add.
            actions.append(Action("add", "group_member", username, f"cohort {want.name!r}",
                                  moodle_id=user.id if user else None, payload=(("cohort", want.key),)))
    for key, group in sorted(ours.items()):
        for user_id in sorted(remote.group_members.get(group.id, frozenset())):
            member = roster_ids.get(user_id)
            if member is None or wanted.get(member) == key:
                continue  # not the roster's (left alone), or where they belong
            elsewhere = wanted.get(member)
            # In the roster, but in another cohort (moved) or in none (leaving: counted by the guard).
            reason = "moved to another cohort" if elsewhere else "no longer in this cohort in the roster"
            actions.append(Action("remove", "group_member", member, f"{reason} (group {html.unescape(group.name)!r})",
                                  moodle_id=user_id, payload=(("cohort", key),), destructive=elsewhere is None))
    return actions


def _plan_category(desired: Desired, remote: Remote, state: State) -> list[Action]:
    want = desired.category
    mapping = state.get("category", want.idnumber)
    wanted_hash = content_hash(want)
    if not remote.category_checked:
        # The course sits in the mapped category: nothing to check.
        return []
    if remote.category is None:
        # Missing in Moodle (never created, or deleted by hand): create it.
        return [Action("create", "category", want.idnumber, f"no category with idnumber {want.idnumber!r} in Moodle",
                       payload=(("name", want.name), ("idnumber", want.idnumber), ("parent", 0)),
                       content_hash=wanted_hash)]
    if remote.category_made_by_hand:
        # Made by hand with the programme's category name and no idnumber: adopt it by giving it the idnumber.
        category = remote.category
        return [Action("update", "category", want.idnumber,
                       f"made by hand (named {category.name!r}, no idnumber): adopting it", moodle_id=category.id,
                       changes=(("idnumber", category.idnumber or "", want.idnumber),),
                       payload=(("idnumber", want.idnumber),), content_hash=wanted_hash)]
    if mapping is None or mapping.moodle_id != remote.category.id or mapping.content_hash != wanted_hash:
        # Exists in Moodle but the store does not know it (lost store, in-doubt create): adopt it.
        # Its name is left alone: a category may hold other courses and be named by the site's admins.
        return [Action("adopt", "category", want.idnumber, "found in Moodle by idnumber",
                       moodle_id=remote.category.id, content_hash=wanted_hash)]
    # Known and present: nothing to do.
    return []


def _course_remote_fields(course: Course) -> dict[str, Any]:
    # Only what Moodle reported: to an account that cannot enter the course it gives the public fields
    # alone, and a field it left out is unknown, not different.
    fields = {
        "shortname": course.shortname,
        "fullname": course.fullname,
        "summary": course.summary,
        "startdate": course.startdate,
        "enddate": course.enddate,
        "enablecompletion": bool(course.enablecompletion),
    }
    return {name: value for name, value in fields.items() if name in course.model_fields_set}


def _plan_course(desired: Desired, remote: Remote, state: State) -> list[Action]:
    want = desired.course
    mapping = state.get("course", want.idnumber)
    wanted_hash = content_hash(want)
    if remote.course is None:
        # Missing in Moodle: create it (in the category, whose id is resolved when applying).
        payload = {"idnumber": want.idnumber, "categoryid": CATEGORY_REF, "summaryformat": 1, **want.fields()}
        reason = "deleted in Moodle; recreating" if mapping else f"no course with idnumber {want.idnumber!r} in Moodle"
        taken = remote.shortname_taken_by
        if taken is not None:
            # Moodle will refuse it: say which course holds the shortname and what to do.
            reason += (f"; but shortname {want.shortname!r} belongs to course {taken.id} (idnumber "
                       f"{taken.idnumber!r}): set another [course].shortname in the programme")
        return [Action("create", "course", want.idnumber, reason, payload=tuple(payload.items()),
                       content_hash=wanted_hash)]
    course = remote.course
    changes = _diff(_course_remote_fields(course), want.fields(), html_fields=("summary",))
    if remote.course_made_by_hand:
        # Made by hand with the programme's shortname and no idnumber: adopt it, giving it the idnumber.
        changes = (("idnumber", course.idnumber or "", want.idnumber), *changes)
    if remote.category_checked and (remote.category is None or course.categoryid != remote.category.id):
        # The course is in another category than the programme's (moved by hand, or category re-created).
        changes += (("categoryid", course.categoryid, CATEGORY_REF),)
    if changes:
        # Fields differ: update only those, with the programme's values.
        reason = _why_changed(mapping.content_hash if mapping else None, wanted_hash, "course")
        if remote.course_made_by_hand:
            reason = f"made by hand (shortname {course.shortname!r}, no idnumber): adopting it"
        payload = dict((name, new) for name, _, new in changes)
        if {"startdate", "enddate"} & set(payload):
            # Moodle validates only the dates it is sent: an end date alone is "nostartdatenoenddate".
            payload.update(startdate=want.startdate, enddate=want.enddate)
        return [Action("update", "course", want.idnumber, reason, moodle_id=course.id, changes=changes,
                       payload=tuple(payload.items()), content_hash=wanted_hash)]
    if mapping is None or mapping.moodle_id != course.id or mapping.content_hash != wanted_hash:
        # Matches the programme but the store does not know it (lost store, in-doubt write): adopt.
        return [Action("adopt", "course", want.idnumber, "found in Moodle by idnumber", moodle_id=course.id,
                       content_hash=wanted_hash)]
    # Known and equal: nothing to do.
    return []


def _event_remote_fields(event: CalendarEvent) -> dict[str, Any]:
    return {
        "name": event.name,
        "description": event.description,
        "timestart": event.timestart,
        "timeduration": event.timeduration,
    }


def _event_changes(event: CalendarEvent, want: DesiredEvent) -> tuple[tuple[str, Any, Any], ...]:
    return _diff(_event_remote_fields(event), want.fields(), html_fields=("description",))


def _made_by_hand(remote: Remote, state: State) -> dict[tuple[int, int], list[CalendarEvent]]:
    """Course events no lms_sync run made (no marker, no mapping), by (start, duration)."""
    mapped = {m.moodle_id for m in state.of_kind("event")}
    found: dict[tuple[int, int], list[CalendarEvent]] = {}
    for event in sorted(remote.events, key=lambda e: e.id):
        if parse_marker(event.description) is None and event.id not in mapped:
            found.setdefault((event.timestart, event.timeduration), []).append(event)
    return found


def _plan_events(desired: Desired, remote: Remote, state: State) -> list[Action]:
    actions: list[Action] = []
    wanted_keys = {e.key for e in desired.events}
    by_id = {e.id: e for e in remote.events}
    marked: dict[str, list[CalendarEvent]] = {}
    for event in remote.events:
        found = parse_marker(event.description)
        if found and found[0] == desired.programme_id:
            marked.setdefault(found[1], []).append(event)
    by_hand = _made_by_hand(remote, state)
    handled: set[int] = set()

    for want in desired.events:
        mapping = state.get("event", want.key)
        wanted_hash = content_hash(want)
        candidates = list(marked.get(want.key, []))
        mapped = by_id.get(mapping.moodle_id) if mapping else None
        if mapped is not None and mapped not in candidates and parse_marker(mapped.description) is None:
            # The mapped event lost its marker in a hand edit: still ours, by its id.
            candidates.append(mapped)
        same_time = by_hand.get((want.timestart, want.timeduration), [])
        adopted_now = not candidates and bool(same_time)
        if adopted_now:
            # Made by hand at the session's very start and duration: that session's event (one per session,
            # should two sessions share a time). Adopt it; the replace below brings it in step and marks it.
            adopted = same_time.pop(0)
            actions.append(Action("adopt", "event", want.key, "made by hand at the same time", moodle_id=adopted.id))
            candidates.append(adopted)
            mapping = None
        handled.update(e.id for e in candidates)
        if not candidates:
            # No event in Moodle: restore one deleted by hand, or create a new session's.
            reason = "deleted in Moodle; restoring it" if mapping else "new session"
            if remote.course is None:
                reason = "new course"
            actions.append(Action("create", "event", want.key, reason, payload=tuple(want.fields().items()),
                                  content_hash=wanted_hash))
            continue
        keep = _pick(candidates, mapping.moodle_id if mapping else None, want)
        for extra in sorted(candidates, key=lambda e: e.id):
            if extra.id != keep.id:
                # More than one event for this session (a create whose answer was lost): keep one.
                actions.append(Action("delete", "event", want.key, f"duplicate of event {keep.id}",
                                      moodle_id=extra.id))
        changes = _event_changes(keep, want)
        if changes:
            # The event differs: replace it (see the module docstring for why not the event form).
            reason = _why_changed(mapping.content_hash if mapping else None, wanted_hash, "event")
            if adopted_now:
                reason = "made by hand: bringing it in step with the programme and marking it"
            actions.append(Action("replace", "event", want.key, reason, moodle_id=keep.id, changes=changes,
                                  payload=tuple(want.fields().items()), content_hash=wanted_hash))
        elif mapping is None or mapping.moodle_id != keep.id or mapping.content_hash != wanted_hash:
            # Equal to the programme but unknown to the store (lost store, in-doubt create): adopt.
            actions.append(Action("adopt", "event", want.key, "found in Moodle by its marker", moodle_id=keep.id,
                                  content_hash=wanted_hash))

    at_time = {(w.timestart, w.timeduration): w.key for w in reversed(desired.events)}
    for moment, leftovers in sorted(by_hand.items()):
        for extra in leftovers if moment in at_time else ():
            # Another unmarked event at a session's very time, beside the session's own: a second copy in
            # every calendar. Not counted by the guard, like any duplicate: the session keeps its event
            # (this is also what a run killed between the two halves of a replace leaves).
            handled.add(extra.id)
            actions.append(Action("delete", "event", at_time[moment], "made by hand at the same time as the "
                                  "session's own event: a duplicate", moodle_id=extra.id,
                                  changes=(("name", extra.name, None),)))
    for key, events in sorted(marked.items()):
        if key in wanted_keys:
            continue
        for event in events:
            # A marked event whose session left the programme: delete it (the feed keeps it as cancelled).
            handled.add(event.id)
            actions.append(Action("delete", "event", key, "session removed from the programme", moodle_id=event.id,
                                  changes=(("name", event.name, None),), destructive=True))
    for mapping in state.of_kind("event"):
        if mapping.key in wanted_keys:
            continue
        if mapping.moodle_id in by_id and mapping.moodle_id not in handled:
            # Our event (by id) lost its marker, and its session left the programme: delete it.
            event = by_id[mapping.moodle_id]
            actions.append(Action("delete", "event", mapping.key, "session removed from the programme",
                                  moodle_id=event.id, changes=(("name", event.name, None),), destructive=True))
        elif mapping.moodle_id not in by_id and not marked.get(mapping.key):
            # Session removed and its event already gone from Moodle: forget the mapping.
            actions.append(Action("forget", "event", mapping.key, "no longer in the programme nor in Moodle",
                                  moodle_id=mapping.moodle_id))
    return actions


def _pick(candidates: list[CalendarEvent], mapped_id: int | None, want: DesiredEvent) -> CalendarEvent:
    """The event to keep for a session: one already equal to the programme first, then the mapped one.

    Equality comes first because a crash during a replace leaves the mapped *old* event next to the
    new, already correct one: keeping the mapped one would delete the correct event as a duplicate
    and create a third. Among equal events (or when none is equal) the mapped one wins, then the oldest.
    """
    equal = [e for e in candidates if not _event_changes(e, want)]
    pool = equal or candidates
    return next((e for e in pool if e.id == mapped_id), None) or min(pool, key=lambda e: e.id)


def _att_fields(session: AttendanceSession) -> dict[str, Any]:
    return {"sessdate": session.sessdate, "duration": session.duration, "description": session.description}


def _att_changes(session: AttendanceSession, want: DesiredAttendanceSession) -> tuple[tuple[str, Any, Any], ...]:
    return _diff(_att_fields(session), want.fields())


def _plan_attendance(desired: Desired, remote: Remote, state: State) -> list[Action]:
    want = desired.attendance
    assert want is not None
    actions: list[Action] = []
    if remote.attendance_problem or remote.course is None and not want.create:
        return []  # nothing to plan with: push refuses (attendance_refusal) or the course comes first
    mapping = state.get("attendance", want.key)
    if remote.attendance is None:
        # No Attendance activity yet and the programme asks push to make one: create it, then every session.
        actions.append(Action("create", "attendance", want.key, "no Attendance activity of the programme in the "
                              "course", payload=(("name", want.name),)))
        for new in want.sessions:
            actions.append(Action("create", "attendance_session", new.key, "new Attendance activity",
                                  payload=tuple(new.fields().items()), content_hash=content_hash(new)))
        return actions
    if mapping is None or mapping.moodle_id != remote.attendance.id:
        # Exists in the course but the store does not know it (lost store, named in the programme): adopt.
        actions.append(Action("adopt", "attendance", want.key, "found in the course", moodle_id=remote.attendance.id))

    sessions = remote.attendance_sessions
    by_id = {s.id: s for s in sessions}
    wanted_keys = {w.key for w in want.sessions}
    mapped_ids = {m.moodle_id for m in state.of_kind("attendance_session")}
    marked: dict[str, list[AttendanceSession]] = {}
    by_hand: dict[tuple[int, int], list[AttendanceSession]] = {}
    for s in sorted(sessions, key=lambda s: s.id):
        found = parse_marker(s.description)
        if found and found[0] == desired.programme_id:
            marked.setdefault(found[1], []).append(s)
        elif found is None and s.id not in mapped_ids:
            by_hand.setdefault((s.sessdate, s.duration), []).append(s)
    handled: set[int] = set()

    for w in want.sessions:
        m = state.get("attendance_session", w.key)
        wanted_hash = content_hash(w)
        candidates = list(marked.get(w.key, []))
        mapped = by_id.get(m.moodle_id) if m else None
        if mapped is not None and mapped not in candidates:
            candidates.append(mapped)  # ours by its id (a session adopted by its time carries no marker)
        if not candidates and by_hand.get((w.sessdate, w.duration)):
            # Made by hand at the session's very time: that session's. Adopted; marked below when it can be.
            candidates.append(by_hand[(w.sessdate, w.duration)].pop(0))
        handled.update(s.id for s in candidates)
        if not candidates:
            actions.append(Action("create", "attendance_session", w.key, "deleted in Moodle; restoring it"
                                  if m else "new session", payload=tuple(w.fields().items()), content_hash=wanted_hash))
            continue
        # Keep the one holding statuses (people's records) first, then one equal to the programme, then the mapped one.
        keep = sorted(candidates, key=lambda s: (not s.attendance_log, bool(_att_changes(s, w)),
                                                 s.id != (m.moodle_id if m else None), s.id))[0]
        for extra in candidates:
            if extra.id != keep.id:
                # A second session for the same programme session (a create whose answer was lost, a copy).
                actions.append(Action("delete", "attendance_session", w.key, f"duplicate of session {keep.id}",
                                      moodle_id=extra.id, statuses=len(extra.attendance_log)))
        changes = _att_changes(keep, w)
        moved = [c for c in changes if c[0] != "description"]
        if changes and (moved or not keep.attendance_log):
            # Different from the programme and no update call: replace it (refused when it holds statuses).
            actions.append(Action("replace", "attendance_session", w.key,
                                  _why_changed(m.content_hash if m else None, wanted_hash, "session"),
                                  moodle_id=keep.id, changes=changes, payload=tuple(w.fields().items()),
                                  content_hash=wanted_hash, statuses=len(keep.attendance_log)))
        elif m is None or m.moodle_id != keep.id or (m.content_hash != wanted_hash and not changes):
            # In step (or only its description differs from a session already taken, left as taken): record it.
            reason = "made by hand at the same time" if parse_marker(keep.description) is None else "found by its marker"
            actions.append(Action("adopt", "attendance_session", w.key, reason, moodle_id=keep.id,
                                  content_hash=wanted_hash if not changes else ""))

    for key, found_sessions in sorted(marked.items()):
        if key in wanted_keys:
            continue
        for session in found_sessions:
            # Its session left the programme or was cancelled: remove it (refused when it holds statuses).
            handled.add(session.id)
            actions.append(Action("delete", "attendance_session", key, "session cancelled or removed from the "
                                  "programme", moodle_id=session.id, destructive=True,
                                  statuses=len(session.attendance_log)))
    for m in state.of_kind("attendance_session"):
        if m.key in wanted_keys or m.moodle_id in handled:
            continue
        if m.moodle_id in by_id:
            session = by_id[m.moodle_id]
            actions.append(Action("delete", "attendance_session", m.key, "session cancelled or removed from the "
                                  "programme", moodle_id=m.moodle_id, destructive=True,
                                  statuses=len(session.attendance_log)))
        else:
            actions.append(Action("forget", "attendance_session", m.key, "no longer in the programme nor in Moodle",
                                  moodle_id=m.moodle_id))
    return actions


def attendance_refusal(remote: Remote) -> Refusal | None:
    """Why push cannot keep the Attendance activity (the programme names one the course lacks), or None."""
    return Refusal(RefusalKind.ATTENDANCE, remote.attendance_problem) if remote.attendance_problem else None


def held_records_refusal(actions: list[Action]) -> Refusal | None:
    """Why the plan must not run without ``--force-attendance``: it deletes statuses a teacher took, or None."""
    held = [a for a in actions if a.statuses]
    if not held:
        return None
    what = ", ".join(f"{a.key} ({a.statuses} status{'es' if a.statuses > 1 else ''})" for a in held)
    return Refusal(RefusalKind.HELD_RECORDS, f"the plan would delete attendance already taken, in session(s) "
                   f"{what}: moving, cancelling or removing a session that took place deletes its statuses with it",
                   sum(a.statuses for a in held))


def _plan_users(desired: Desired, remote: Remote, state: State) -> list[Action]:
    actions: list[Action] = []
    for want in desired.users or ():
        mapping = state.get("user", want.username)
        wanted_hash = content_hash(want)
        have = remote.users.get(want.username)
        if have is None:
            # No account with this username: create it. The password is left to Moodle
            # (createpassword=1 with manual auth): it is generated and mailed, never in our logs.
            payload: dict[str, Any] = {"username": want.username, "auth": desired.auth, **want.fields()}
            if desired.auth == "manual":
                payload["createpassword"] = 1
            actions.append(Action("create", "user", want.username, "no account with this username in Moodle",
                                  payload=tuple(payload.items()), content_hash=wanted_hash))
            continue
        changes = _diff(have.fields, dict(want.fields()))
        if changes:
            # Profile fields differ: update only those (never the password or the auth method).
            reason = _why_changed(mapping.content_hash if mapping else None, wanted_hash, "profile")
            actions.append(Action("update", "user", want.username, reason, moodle_id=have.id, changes=changes,
                                  payload=tuple((n, new) for n, _, new in changes), content_hash=wanted_hash))
        elif mapping is None or mapping.moodle_id != have.id or mapping.content_hash != wanted_hash:
            # Existing account matching the roster, unknown to the store: adopt it.
            actions.append(Action("adopt", "user", want.username, "found in Moodle by username", moodle_id=have.id,
                                  content_hash=wanted_hash))
    return actions


def _plan_enrolments(desired: Desired, remote: Remote, state: State) -> list[Action]:
    actions: list[Action] = []
    wanted = {u.username for u in desired.users or ()}
    role_hash = content_hash({"role": desired.role_id})
    for want in desired.users or ():
        mapping = state.get("enrolment", want.username)
        have = remote.users.get(want.username)
        roles = remote.enrolled.get(have.id) if have else None
        if roles is not None and desired.role_id in roles:
            if mapping is None or mapping.moodle_id != have.id or mapping.status != "active":  # type: ignore[union-attr]
                # Already an active participant with the role, unknown to the store: adopt.
                actions.append(Action("adopt", "enrolment", want.username, "already enrolled",
                                      moodle_id=have.id, content_hash=role_hash))  # type: ignore[union-attr]
            continue
        # Not an active participant with the role (new, suspended or unenrolled by hand): enrol.
        # Moodle accepts re-enrolment, but it is planned only when missing so a no-op push writes nothing.
        if roles is None:
            reason = "not enrolled" if mapping is None else "enrolment missing or suspended in Moodle; restoring it"
        else:
            reason = f"enrolled without role {desired.role_id}"
        actions.append(Action("enrol", "enrolment", want.username, reason, moodle_id=have.id if have else None,
                              payload=(("roleid", desired.role_id),), content_hash=role_hash))
    for mapping in state.of_kind("enrolment"):
        if mapping.key in wanted:
            continue
        if mapping.moodle_id in remote.enrolled:
            # Left the roster: suspend the enrolment (reversible; keeps grades and completion).
            actions.append(Action("suspend", "enrolment", mapping.key, "participant removed from the roster",
                                  moodle_id=mapping.moodle_id, destructive=True))
        else:
            # Left the roster and no longer an active participant: forget the mapping.
            actions.append(Action("forget", "enrolment", mapping.key, "no longer in the roster nor enrolled",
                                  moodle_id=mapping.moodle_id))
    return actions


def mass_delete_refusal(
    actions: list[Action], desired: Desired, remote: Remote, state: State, max_deletes: int
) -> Refusal | None:
    """Why the plan must not run without ``--force-delete`` (vdirsyncer's guard), or None when it may.

    Counted: events deleted because their session left the programme, enrolments suspended
    because the participant left the roster, and participants leaving every cohort. Not counted:
    deleting a duplicate (another event for the same session stays), the delete half of a replace,
    and a participant's removal from a group when they move to another cohort.
    """
    destructive = [a for a in actions if a.destructive]
    if not destructive:
        return None
    ids = {e.id for e in remote.events}
    ours = {e.id for e in remote.events if (parse_marker(e.description) or ("",))[0] == desired.programme_id}
    ours |= {m.moodle_id for m in state.of_kind("event") if m.moodle_id in ids}
    event_deletes = {a.moodle_id for a in destructive if a.kind == "event"}
    if event_deletes and ours and ours <= event_deletes:
        return Refusal(RefusalKind.MASS_DELETE,
                       f"the plan deletes every event of the programme in Moodle ({len(event_deletes)})",
                       len(event_deletes))
    leaving = {a.moodle_id for a in destructive if a.kind == "group_member"}
    in_cohorts = {uid for uids in remote.group_members.values() for uid in uids}
    if leaving and (in_cohorts & set(_roster_ids(desired, remote))) <= leaving:
        return Refusal(RefusalKind.MASS_DELETE, f"the plan removes every participant from their cohort ({len(leaving)})",
                       len(leaving))
    active = {m.moodle_id for m in state.of_kind("enrolment") if m.moodle_id in remote.enrolled}
    suspends = {a.moodle_id for a in destructive if a.kind == "enrolment"}
    if suspends and active <= suspends:
        return Refusal(RefusalKind.MASS_DELETE, f"the plan suspends every participant of the course ({len(suspends)})",
                       len(suspends))
    if len(destructive) > max_deletes:
        return Refusal(RefusalKind.MASS_DELETE, f"the plan deletes or suspends {len(destructive)} objects, more than "
                       f"push.max_deletes = {max_deletes}", len(destructive))
    return None
