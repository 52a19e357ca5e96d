"""lms_sync: keep a Moodle site, a calendar feed and completion reports in step with a training programme."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lms_sync")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
