"""Pull enrolment, completion and attendance from Moodle into one snapshot per run (``lms-sync pull``).

Shaped like ``sync/``: ``plan.py`` decides (pure) whose completion to read again, ``sources.py``
reads (participants, per-participant completion, the Attendance activity in one call,
``report_builder.py`` for the custom report), ``merge.py`` builds the snapshot rows, ``run.py``
runs the four in order as one recorded run.
"""

from .run import PullResult, pull_completion

__all__ = ["PullResult", "pull_completion"]
