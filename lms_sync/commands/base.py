"""Shared shape of a sub-command: help with examples, global options, a handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..context import Context
from ..errors import exit_codes_help

Handler = Callable[[Context, argparse.Namespace], int]
SubParsers = Any  # argparse's _SubParsersAction is private


def add_command(
    sub: SubParsers,
    parent: argparse.ArgumentParser,
    name: str,
    *,
    summary: str,
    description: str,
    examples: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    """Add a sub-command whose help ends with its examples (a test checks every command has one)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="examples:\n" + examples.rstrip() + "\n\nexit codes:\n" + exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parent],
    )
    parser.set_defaults(handler=handler)
    return parser
