"""The sync tests use the fake Moodle with completion, as the pull tests do."""

from tests.completion.conftest import fake  # noqa: F401 (re-exported as a fixture)
