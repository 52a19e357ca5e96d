"""Who earns the programme's attestation, from a completion report and the programme's rule.

The rule is the programme's ``[attestation]`` table (``lms_sync.program.AttestationRule``)::

    [attestation]
    sessions_attended = 3     # at least 3 of the sessions that take place attended
    course_completed = true   # and the Moodle course completed (both given: both are needed)

The interface, for the renderers and ``report attestation``::

    rule = attestation_rule(programme, file)          # NoAttestationRule when the table is missing
    att = build_attestation(build_report(store), rule)
    att.lines        # one AttestationLine per participant of the report, in the report's order
    att.having(AttestationStatus.QUALIFIES)           # who qualifies, in that order
    att.institutions, att.cohorts, att.totals         # AttestationCount each

Each ``AttestationLine`` says ``status`` (``qualifies``, ``one_session_short``: everything else is met
and one more session attended would do, or ``not_qualified``) and why, as data a renderer words in
its language: ``shortfalls`` (what is missing, ``Shortfall`` codes), ``attended`` of ``needed``
sessions, ``unknown`` sessions whose attendance is not known yet. Attendance not taken counts as not
attended, so an early report is a lower bound; ``unknown`` says by how much it may still rise.

Without an ``[attestation]`` table there is no default rule: lms_sync cannot guess what DGIDT
decided (3 of 4 sessions? completion?), and a list of "who qualifies" under a guessed rule would be
handed to the certificate office as if it were true. ``attestation_rule`` raises
``NoAttestationRule`` (a ConfigError, exit 2) naming the file and the table to add.

Pure: no store, no clock; the same report and rule always give the same attestation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ..errors import ConfigError, Problem
from ..program import AttestationRule, Programme
from ..text import fold
from .data import CompletionReport, ParticipantLine

RULE_EXAMPLE = "[attestation]\nsessions_attended = 3   # at least 3 sessions attended\ncourse_completed = true  # optional"


class NoAttestationRule(ConfigError):
    """The programme does not say what earns the attestation (no ``[attestation]`` table)."""

    def __init__(self, programme_id: str, file: str | Path | None = None) -> None:
        where = str(file) if file else f"the programme file of {programme_id}"
        super().__init__(
            [Problem(where, "attestation", f"programme {programme_id} has no [attestation] table: lms_sync does "
                     "not guess who earns the attestation")],
            hint=f"add to {where} the rule DGIDT decided, for example:\n{RULE_EXAMPLE}\n"
                 "then run `lms-sync validate`",
        )
        self.programme_id = programme_id


def attestation_rule(programme: Programme, file: str | Path | None = None) -> AttestationRule:
    """The programme's rule; NoAttestationRule (exit 2, with how to declare it) when it has none."""
    if programme.attestation is None:
        raise NoAttestationRule(programme.id, file)
    return programme.attestation


class AttestationStatus(StrEnum):
    """Where a participant stands."""

    QUALIFIES = "qualifies"
    ONE_SESSION_SHORT = "one_session_short"  # every other criterion met; one more session attended would do
    NOT_QUALIFIED = "not_qualified"


class Shortfall(StrEnum):
    """One reason a participant does not (yet) qualify."""

    SESSIONS = "sessions"  # fewer sessions attended than the rule asks
    COMPLETION = "completion"  # the course is not completed
    COMPLETION_UNKNOWN = "completion_unknown"  # completion could not be read (failed read, completion off)
    NOT_ENROLLED = "not_enrolled"  # Moodle no longer lists them as enrolled: told apart, judged on what was read


@dataclass(frozen=True)
class AttestationLine:
    """One participant under the rule."""

    participant: ParticipantLine
    status: AttestationStatus
    shortfalls: tuple[Shortfall, ...]  # empty when they qualify (NOT_ENROLLED may stand beside a qualification)
    attended: int  # sessions attended among those that take place
    needed: int | None  # the rule's sessions_attended; None when the rule asks none
    unknown: int  # sessions that take place whose attendance is not known for them

    @property
    def qualifies(self) -> bool:
        """True when they earn the attestation."""
        return self.status is AttestationStatus.QUALIFIES


@dataclass(frozen=True)
class AttestationCount:
    """How many participants of one institution or cohort (or all: the totals) stand where."""

    label: str  # the institution or cohort; "" for those without one, and for the totals
    participants: int
    qualifies: int
    one_session_short: int
    not_qualified: int


@dataclass(frozen=True)
class Attestation:
    """The attestation list of one report: each participant, and the counts per institution and cohort."""

    report: CompletionReport
    rule: AttestationRule
    sessions_held: int  # sessions of the snapshot that take place (the rule counts among them)
    lines: tuple[AttestationLine, ...]
    institutions: tuple[AttestationCount, ...]
    cohorts: tuple[AttestationCount, ...]  # empty when no participant has a cohort
    totals: AttestationCount

    def having(self, status: AttestationStatus) -> tuple[AttestationLine, ...]:
        """The lines with ``status`` (the certificate office's list: ``having(AttestationStatus.QUALIFIES)``)."""
        return tuple(line for line in self.lines if line.status is status)


def build_attestation(report: CompletionReport, rule: AttestationRule) -> Attestation:
    """Judge every participant of ``report`` under ``rule`` and count them per institution and cohort."""
    held = [i for i, s in enumerate(report.sessions) if not s.cancelled]
    lines = tuple(_judge(p, rule, held) for p in report.participants)
    institutions = _counts(lines, lambda line: line.participant.institution)
    cohorts = _counts(lines, lambda line: line.participant.cohort)
    if all(not line.participant.cohort for line in lines):
        cohorts = ()
    return Attestation(report, rule, len(held), lines, institutions, cohorts, _count("", lines))


def _judge(p: ParticipantLine, rule: AttestationRule, held: list[int]) -> AttestationLine:
    attended = sum(1 for i in held if i < len(p.attended) and p.attended[i])
    unknown = sum(1 for i in held if i >= len(p.attended) or p.attended[i] is None)
    short: list[Shortfall] = []
    sessions_short = 0
    if rule.sessions_attended is not None and attended < rule.sessions_attended:
        short.append(Shortfall.SESSIONS)
        sessions_short = rule.sessions_attended - attended
    if rule.course_completed and not p.completed:
        short.append(Shortfall.COMPLETION if p.completed is False else Shortfall.COMPLETION_UNKNOWN)
    if not short:
        status = AttestationStatus.QUALIFIES
    elif short == [Shortfall.SESSIONS] and sessions_short == 1:
        status = AttestationStatus.ONE_SESSION_SHORT
    else:
        status = AttestationStatus.NOT_QUALIFIED
    if p.status == "no_access":
        short.append(Shortfall.NOT_ENROLLED)
    return AttestationLine(p, status, tuple(short), attended, rule.sessions_attended, unknown)


def _count(label: str, lines: Sequence[AttestationLine]) -> AttestationCount:
    by = [line.status for line in lines]
    return AttestationCount(label, len(by), by.count(AttestationStatus.QUALIFIES),
                            by.count(AttestationStatus.ONE_SESSION_SHORT), by.count(AttestationStatus.NOT_QUALIFIED))


def _counts(lines: Sequence[AttestationLine], label_of: Callable[[AttestationLine], str]) -> tuple[AttestationCount, ...]:
    groups: dict[str, list[AttestationLine]] = {}
    for line in lines:
        groups.setdefault(label_of(line), []).append(line)
    return tuple(_count(label, members) for label, members in sorted(groups.items(), key=lambda kv: fold(kv[0])))


__all__ = [
    "Attestation",
    "AttestationCount",
    "AttestationLine",
    "AttestationStatus",
    "NoAttestationRule",
    "Shortfall",
    "attestation_rule",
    "build_attestation",
]
