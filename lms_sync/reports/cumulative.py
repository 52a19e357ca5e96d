"""The view across programmes: who was trained in which cycle, completed or not, per person and per institution.

Built from each programme's latest snapshot. A person is recognised across programmes by their
username or their e-mail (either one matching is the same person: an account recreated with a new
username, or a new address, still counts once); within a programme they count once. Participants
Moodle no longer lists as enrolled (``no_access``) are left out, as in the per-programme counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..snapshots import STATUS_NO_ACCESS, ParticipantRow, Snapshot, list_snapshots, load_rows
from ..store import Store
from ..text import fold
from .data import NoSnapshot


@dataclass(frozen=True)
class ProgrammeColumn:
    """One programme of the view, as its latest snapshot saw it."""

    id: str
    title: str
    run_id: int
    taken_at: datetime  # aware, in the programme's timezone
    complete: bool  # every participant was read


@dataclass(frozen=True)
class Enrolment:
    """One person in one programme."""

    completed: bool | None  # None: unknown (not read, or completion off)
    attended: int  # sessions attended
    marked: int  # sessions whose attendance is known


@dataclass(frozen=True)
class PersonLine:
    """One person across the programmes."""

    fullname: str
    username: str
    email: str
    institution: str  # as their latest programme says
    programmes: tuple[Enrolment | None, ...]  # aligned with CumulativeReport.programmes; None: not in it

    @property
    def trained(self) -> int:
        """Programmes they took part in."""
        return sum(1 for e in self.programmes if e is not None)

    @property
    def completed(self) -> int:
        """Programmes they completed."""
        return sum(1 for e in self.programmes if e is not None and e.completed)


@dataclass(frozen=True)
class InstitutionSummary:
    """One institution (or the totals) across the programmes."""

    institution: str
    people: int  # distinct people trained in at least one programme
    completed_any: int  # distinct people who completed at least one
    enrolled: tuple[int, ...]  # per programme
    completed: tuple[int, ...]  # per programme


@dataclass(frozen=True)
class CumulativeReport:
    """Everything the view across programmes shows."""

    programmes: tuple[ProgrammeColumn, ...]
    people: tuple[PersonLine, ...]
    institutions: tuple[InstitutionSummary, ...]
    totals: InstitutionSummary

    @property
    def complete(self) -> bool:
        """False when a programme's latest snapshot could not read everyone."""
        return all(p.complete for p in self.programmes)


def build_cumulative(store: Store, programme_ids: Sequence[str] | None = None) -> CumulativeReport:
    """The view of every programme's latest snapshot (or of those named), oldest programme first."""
    latest: dict[str, Snapshot] = {}
    for summary in list_snapshots(store):  # newest first
        latest.setdefault(summary.snapshot.programme_id, summary.snapshot)
    if programme_ids is not None:
        latest = {pid: s for pid, s in latest.items() if pid in programme_ids}
    if not latest:
        raise NoSnapshot("no pull has been recorded yet")
    snapshots = sorted(latest.values(), key=lambda s: (min((x.start for x in s.sessions), default=""), s.programme_id))
    columns = tuple(ProgrammeColumn(s.programme_id, s.programme_title, s.run_id,
                                    s.taken_at.astimezone(ZoneInfo(s.timezone)), s.complete) for s in snapshots)
    people = _people(store, snapshots)
    return CumulativeReport(columns, people, *_institutions(people, len(columns)))


def _people(store: Store, snapshots: list[Snapshot]) -> tuple[PersonLine, ...]:
    """Each person once, merged across programmes by username or e-mail."""
    persons = _Persons()
    for index, snapshot in enumerate(snapshots):
        for row in load_rows(store, snapshot.run_id):
            if row.status == STATUS_NO_ACCESS:
                continue
            persons.add(index, row)
    lines = []
    for group in persons.groups():
        rows = [row for _, row in group]
        last = rows[-1]  # the latest programme's row: its institution is the current one
        enrolments: list[Enrolment | None] = [None] * len(snapshots)
        for index, row in group:
            known = [a.attended for a in row.attendance.values() if a.attended is not None]
            enrolments[index] = Enrolment(row.completed, sum(1 for a in known if a), len(known))
        lines.append(PersonLine(last.fullname, last.username, last.email, last.institution, tuple(enrolments)))
    return tuple(sorted(lines, key=lambda p: (fold(p.institution), fold(p.fullname), p.username)))


class _Persons:
    """Rows grouped into people: two rows sharing a username or an e-mail are one person (union-find)."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, ParticipantRow]] = []
        self._parent: list[int] = []
        self._by_key: dict[str, int] = {}

    def add(self, programme: int, row: ParticipantRow) -> None:
        """One snapshot row of a programme."""
        me = len(self._rows)
        self._rows.append((programme, row))
        self._parent.append(me)
        for key in (f"u:{row.username.casefold()}" if row.username else "",
                    f"e:{row.email.casefold()}" if row.email else "", f"id:{row.user_id}"):
            if not key:
                continue
            if key in self._by_key:
                self._union(me, self._by_key[key])
            else:
                self._by_key[key] = me

    def groups(self) -> list[list[tuple[int, ParticipantRow]]]:
        """The people, each as their rows in programme order (one row per programme)."""
        found: dict[int, dict[int, ParticipantRow]] = {}
        for i, (programme, row) in enumerate(self._rows):
            found.setdefault(self._find(i), {}).setdefault(programme, row)  # once per programme
        return [sorted(rows.items()) for rows in found.values()]

    def _find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def _union(self, a: int, b: int) -> None:
        self._parent[self._find(a)] = self._find(b)


def _institutions(people: tuple[PersonLine, ...], n: int) -> tuple[tuple[InstitutionSummary, ...], InstitutionSummary]:
    by_name: dict[str, list[PersonLine]] = {}
    for person in people:
        by_name.setdefault(person.institution, []).append(person)

    def summary(name: str, group: list[PersonLine]) -> InstitutionSummary:
        return InstitutionSummary(
            name, len(group), sum(1 for p in group if p.completed),
            tuple(sum(1 for p in group if p.programmes[i] is not None) for i in range(n)),
            tuple(sum(1 for p in group if (e := p.programmes[i]) is not None and e.completed) for i in range(n)),
        )

    rows = tuple(summary(name, group) for name, group in sorted(by_name.items(), key=lambda kv: fold(kv[0])))
    return rows, summary("", list(people))
