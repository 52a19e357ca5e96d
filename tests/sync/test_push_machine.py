"""A Hypothesis state machine for push (after vdirsyncer's SyncMachine).

Random programme and roster edits, hand edits in Moodle (a course, its category and session events
made by hand before the first push, more events typed by hand at a session's time later), injected
timeouts, HTTP 500s and crashes between calls, pushes with and without --force-delete, a lost state
store, participants moved between cohorts (or out of every one). Invariants: after every
push that exits 0, Moodle holds exactly the programme (one course, one event per session with the
right name, times and description, the roster as active participants, each in their cohort's one
group, no duplicate) and a second plan is empty; a push whose plan is refused writes nothing to Moodle.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import responses
from tests.conftest import example_counts
from tests.sync.conftest import moodle_settings
from tests.fakes.moodle import FAULT_KINDS, Crash, FakeMoodle
from tests.fakes.moodle_attendance import add_attendance_support, take
from tests.sync.test_push_adopt import hand_made
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lms_sync.moodle.client import MoodleClient
from lms_sync.program import AttendanceSource, AttendanceSpec, Participant, Programme, load_programme
from lms_sync.settings import PushSettings
from lms_sync.store import Store
from lms_sync.sync import desired_state, push
from lms_sync.sync.journal import load_state
from lms_sync.sync.plan import plan
from lms_sync.sync.remote import read_remote

PROGRAM_FILE = Path(__file__).resolve().parents[2] / "config" / "program.toml"
BASE = load_programme(PROGRAM_FILE)[0]
WRITES = ["core_course_create_categories", "core_course_create_courses", "core_course_update_courses",
          "core_calendar_create_calendar_events", "core_calendar_delete_calendar_events", "core_user_create_users",
          "core_user_update_users", "enrol_manual_enrol_users", "mod_attendance_add_attendance",
          "mod_attendance_add_session", "mod_attendance_remove_session", "core_group_create_groups",
          "core_group_add_group_members", "core_group_delete_group_members", None]
COHORTS = ("", "Administrations & entreprises publiques", "Responsables informatiques")


class PushMachine(RuleBasedStateMachine):
    """Edits, faults and pushes in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="push-machine-"))
        self.rsps = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.rsps.start()
        self.fake = FakeMoodle().install(self.rsps)
        add_attendance_support(self.fake)
        self.client = MoodleClient(moodle_settings(), sleep=lambda _s: None)
        self.store = Store(self.tmp / "state.sqlite3")
        self.programme: Programme = BASE
        self.roster: list[Participant] = []
        self.removed: list[Participant] = []  # participants taken out of the roster, to bring back
        self.counter = 0
        self.pushed_ok = False
        # The store knows every enrolment to suspend: true after a push exits 0, false once a
        # participant leaves the roster (see lose_state_store).
        self.synced = False
        self.stores = 0
        self.by_hand: set[int] = set()
        # The store was lost and no push has run fine since: it knows no enrolment, so one that leaves
        # the roster now is (by design) left alone; the machine does not remove participants meanwhile.
        self.blind = False  # events a teacher typed: lms_sync's only at a session's very time

    def teardown(self) -> None:
        self.store.close()
        self.client.close()
        self.rsps.stop()
        self.rsps.reset()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _desired(self):
        return desired_state(self.programme, self.roster, PushSettings())

    @initialize(n=st.integers(0, 3), by_hand=st.booleans(), attendance=st.booleans())
    def start(self, n: int, by_hand: bool, attendance: bool) -> None:
        for _ in range(n):
            self.add_participant()
        if attendance:
            # Attendance taken in an Attendance activity that push creates and keeps in step.
            spec = AttendanceSpec(source=AttendanceSource.MOD_ATTENDANCE, create=True)
            self.programme = self.programme.model_copy(update={"attendance": spec})
        if by_hand:
            # ENA's usual first day: the course, its category and the four events were made by hand.
            hand_made(self.fake, self.programme)
            self.by_hand |= set(self.fake.events)

    # ---------------------------------------------------------------------------- programme edits

    @rule(day=st.integers(0, 60), hours=st.integers(1, 4))
    def add_session(self, day: int, hours: int) -> None:
        i = self._next()
        start = BASE.sessions[0].start + timedelta(days=day)
        session = BASE.sessions[0].model_copy(
            update={"id": f"extra-{i}", "title": f"Séance ajoutée {i}", "start": start,
                    "end": start + timedelta(hours=hours)}
        )
        self.programme = self.programme.model_copy(update={"sessions": (*self.programme.sessions, session)})

    def _replace(self, index: int, **update: object) -> None:
        sessions = list(self.programme.sessions)
        sessions[index % len(sessions)] = sessions[index % len(sessions)].model_copy(update=update)
        self.programme = self.programme.model_copy(update={"sessions": tuple(sessions)})

    @rule(index=st.integers(0, 20), days=st.integers(-10, 10).filter(bool))
    def move_session(self, index: int, days: int) -> None:
        s = self.programme.sessions[index % len(self.programme.sessions)]
        self._replace(index, start=s.start + timedelta(days=days), end=s.end + timedelta(days=days))

    @rule(index=st.integers(0, 20))
    def rename_session(self, index: int) -> None:
        self._replace(index, title=f"Séance renommée {self._next()} – « IA » & données")

    @rule(index=st.integers(0, 20))
    def cancel_session(self, index: int) -> None:
        self._replace(index, status="cancelled")

    @precondition(lambda self: len(self.programme.sessions) > 1)
    @rule(index=st.integers(0, 20))
    def remove_session(self, index: int) -> None:
        sessions = list(self.programme.sessions)
        del sessions[index % len(sessions)]
        self.programme = self.programme.model_copy(update={"sessions": tuple(sessions)})

    # ------------------------------------------------------------------------------- roster edits

    @rule()
    def add_participant(self) -> None:
        i = self._next()
        self.roster.append(Participant(username=f"user{i}", email=f"user{i}@example.tn", firstname="Zoé",
                                       lastname=f"Dubœuf {i}", institution="Ministère de l'Industrie",
                                       cohort=COHORTS[i % len(COHORTS)]))

    @precondition(lambda self: self.roster)
    @rule(index=st.integers(0, 20), cohort=st.sampled_from(COHORTS))
    def change_cohort(self, index: int, cohort: str) -> None:
        k = index % len(self.roster)
        self.roster[k] = self.roster[k].model_copy(update={"cohort": cohort})

    @precondition(lambda self: self.roster)
    @rule(index=st.integers(0, 20))
    def change_participant(self, index: int) -> None:
        k = index % len(self.roster)
        i = self._next()
        self.roster[k] = self.roster[k].model_copy(update={"email": f"changed{i}@example.tn", "department": f"D{i}"})

    @precondition(lambda self: self.roster and not self.blind)
    @rule(index=st.integers(0, 20))
    def remove_participant(self, index: int) -> None:
        self.removed.append(self.roster.pop(index % len(self.roster)))
        self.synced = False

    @precondition(lambda self: self.removed)
    @rule(index=st.integers(0, 20))
    def readd_participant(self, index: int) -> None:
        # Back in the roster with the same account: the suspended enrolment is re-activated, not duplicated.
        self.roster.append(self.removed.pop(index % len(self.removed)))

    # ---------------------------------------------------------------------- Moodle-side mischief

    @rule(kind=st.sampled_from(FAULT_KINDS), wsfunction=st.sampled_from(WRITES), skip=st.integers(0, 3))
    def inject_fault(self, kind: str, wsfunction: str | None, skip: int) -> None:
        self.fake.inject(kind, wsfunction, writes_only=wsfunction is None, skip=skip)

    @precondition(lambda self: self.fake.course_by_idnumber(BASE.id) or self.fake.courses)
    @rule(index=st.integers(0, 20))
    def event_typed_by_hand(self, index: int) -> None:
        # A teacher adds the session to the calendar by hand, at its very time: a copy to remove.
        course = self.fake.course_by_idnumber(BASE.id) or next(iter(self.fake.courses.values()))
        session = self.programme.sessions[index % len(self.programme.sessions)]
        eid = self.fake.new_id()
        self.by_hand.add(eid)
        self.fake.events[eid] = {"id": eid, "name": "Séance (à la main)", "description": "", "format": 1,
                                 "courseid": course["id"], "userid": 2, "eventtype": "course",
                                 "timestart": int(self.programme.aware(session.start).timestamp()),
                                 "timeduration": int((session.end - session.start).total_seconds()),
                                 "visible": 1, "sequence": 1}

    @precondition(lambda self: self._ours())
    @rule(pick=st.integers(0, 50), delete=st.booleans())
    def hand_edit_event(self, pick: int, delete: bool) -> None:
        # Only events lms_sync made: one made by hand and moved off the session's time is not the session's.
        ids = self._ours()
        eid = ids[pick % len(ids)]
        if delete:
            del self.fake.events[eid]
        else:
            self.fake.events[eid]["timestart"] += 1800

    def _ours(self) -> list[int]:
        return sorted(eid for eid, e in self.fake.events.items() if "#lms-sync:" in e["description"])

    @precondition(lambda self: any(i.sessions for i in self.fake.attendance.instances.values()))
    @rule(pick=st.integers(0, 50))
    def teacher_takes_attendance(self, pick: int) -> None:
        # Statuses are taken: from now on that session cannot move without --force-attendance.
        sessions = sorted(sid for i in self.fake.attendance.instances.values() for sid in i.sessions)
        take(self.fake, sessions[pick % len(sessions)], {1: "P"})

    # ------------------------------------------------------------------------------- state store

    # Only when the store knows every enrolment: a participant who left the roster while the store
    # was lost cannot be told from one enrolled by hand, so that enrolment is (by design) left alone.
    @precondition(lambda self: self.synced)
    @rule()
    def lose_state_store(self) -> None:
        self.store.close()
        self.stores += 1
        self.store = Store(self.tmp / f"state-{self.stores}.sqlite3")
        self.blind = True

    # -------------------------------------------------------------------------------------- push

    @rule(force=st.booleans())
    def push(self, force: bool) -> None:
        before = len(self.fake.calls)
        try:
            outcome = push(self.client, self.store, self._desired(), force_delete=force, force_attendance=force)
        except Crash:
            self.pushed_ok = False
            return
        except Exception as exc:  # Moodle "unavailable" after retries (injected faults on reads)
            assert getattr(exc, "exit_code", None) == 3, exc
            self.pushed_ok = False
            return
        if outcome.refusal is not None:
            # The guard stops the plan before any write: Moodle is untouched, exit 1.
            assert not force and outcome.result is None and outcome.exit_code == 1
            assert [c.wsfunction for c in self.fake.calls[before:] if c.write] == []
        self.pushed_ok = outcome.exit_code == 0
        if self.pushed_ok:
            self.synced, self.blind = True, False
            self.check_matches()

    @rule()
    def clear_faults_and_push(self) -> None:
        self.fake.faults.clear()
        outcome = push(self.client, self.store, self._desired(), force_delete=True, force_attendance=True)
        assert outcome.exit_code == 0, outcome.summary()
        self.pushed_ok = self.synced = True
        self.blind = False
        self.check_matches()

    def check_matches(self) -> None:
        course = self.fake.course_by_idnumber(self.programme.id)
        assert course is not None
        assert sum(1 for c in self.fake.courses.values() if c["idnumber"] == self.programme.id) == 1
        desired = self._desired()
        events = self.fake.course_events(course["id"])
        times = {(e.timestart, e.timeduration) for e in desired.events}
        # Typed by hand at another time than any session's: not a session, left alone.
        events = [e for e in events if e["id"] not in self.by_hand or (e["timestart"], e["timeduration"]) in times]
        have = sorted((e["name"], e["timestart"], e["timeduration"], e["description"]) for e in events)
        want = sorted((e.name, e.timestart, e.timeduration, e.description) for e in desired.events)
        assert have == want
        assert self.fake.active_usernames(course["id"]) == {p.username for p in self.roster}
        assert len(self.fake.categories) == 1
        if desired.attendance is not None:
            (instance,) = self.fake.attendance.instances.values()
            # One per session at its time; a session already taken keeps the description it was taken with.
            have_att = sorted((s["sessdate"], s["duration"]) for s in instance.sessions.values())
            assert have_att == sorted((s.sessdate, s.duration) for s in desired.attendance.sessions)
            untaken = {s["description"] for s in instance.sessions.values() if not s["log"]}
            assert untaken <= {s.description for s in desired.attendance.sessions}
        ours = [g for g in self.fake.groups.values() if g["idnumber"].startswith("lms-sync-cohort:")]
        assert len({g["idnumber"] for g in ours}) == len(ours)  # one group per cohort, never two
        names = {p.username for p in self.roster}
        have_groups = {g["name"]: {self.fake.users[u]["username"] for u in g["members"]} & names for g in ours}
        want_groups = {c: {p.username for p in self.roster if p.cohort == c} for c in COHORTS if c}
        assert {k: v for k, v in have_groups.items() if v} == {k: v for k, v in want_groups.items() if v}
        usernames = [u["username"] for u in self.fake.users.values()]
        assert len(usernames) == len(set(usernames))
        for p in self.roster:
            user = self.fake.user_by_username(p.username)
            assert user is not None and user["email"] == p.email and user["password_changes"] == 0
        # A second plan, with the faults cleared, is empty.
        faults, self.fake.faults = self.fake.faults, []
        state = load_state(self.store, desired.programme_id)
        assert plan(desired, read_remote(self.client, desired, state), state) == []
        self.fake.faults = faults

    @invariant()
    def store_is_consistent(self) -> None:
        assert self.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# Derandomized: the same examples on every run, so a CI failure reproduces; about 3 s.
PushMachine.TestCase.settings = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow],
    **example_counts(max_examples=60, stateful_step_count=20),
)
TestPushMachine = PushMachine.TestCase
