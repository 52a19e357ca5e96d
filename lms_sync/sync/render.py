"""The plan as text, like ``terraform plan``: ``+`` create, ``~`` change (with the fields), ``-`` delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .plan import Action

SYMBOLS = {
    "create": "+",
    "enrol": "+",
    "update": "~",
    "replace": "~",
    "adopt": "=",
    "forget": "=",
    "delete": "-",
    "suspend": "-",
    "add": "+",
    "remove": "-",
}
TIME_FIELDS = frozenset({"timestart", "startdate", "enddate"})


def _show(name: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if name in TIME_FIELDS and isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if name == "timeduration" and isinstance(value, int):
        return f"{value // 60} min"
    text = str(value)
    return repr(text if len(text) <= 70 else text[:67] + "...")


def render_action(action: Action) -> list[str]:
    """One action as lines: the symbol, what and why, then each changed field."""
    symbol = SYMBOLS.get(action.op, "?")
    target = f"{action.kind} {action.key}" + (f" (id {action.moodle_id})" if action.moodle_id else "")
    lines = [f"  {symbol} {action.op} {target}: {action.reason}"]
    for name, old, new in action.changes:
        if action.op in ("delete", "suspend", "remove"):
            continue
        lines.append(f"      {name}: {_show(name, old)} -> {_show(name, new)}")
    return lines


def render_plan(actions: Sequence[Action], *, dry_run: bool = False) -> str:
    """The whole plan with a count line; "No changes." when it is empty."""
    if not actions:
        return "No changes. Moodle matches the programme.\n"
    lines = ["lms_sync will perform these actions" + (" (dry run: nothing is written):" if dry_run else ":")]
    for action in actions:
        lines += render_action(action)
    writes = [a for a in actions if a.writes]
    adds = sum(1 for a in writes if SYMBOLS[a.op] == "+")
    changes = sum(1 for a in writes if SYMBOLS[a.op] == "~")
    removes = sum(1 for a in writes if SYMBOLS[a.op] == "-")
    local = len(actions) - len(writes)
    lines.append(
        f"Plan: {adds} to add, {changes} to change, {removes} to delete or suspend, {local} to record locally."
    )
    return "\n".join(lines) + "\n"
