"""Test doubles shared by the test suites and the benchmarks.

``tests/`` is not a package, so put it on ``sys.path`` before importing (see
``tests/sync/conftest.py``) and write ``from fakes.moodle import FakeMoodle``.
"""
