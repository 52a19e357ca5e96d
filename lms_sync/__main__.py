"""``python -m lms_sync``: the same as the ``lms-sync`` command."""

from .cli import run

run()
