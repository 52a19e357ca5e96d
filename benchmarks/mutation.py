"""Mutation testing of the core: each module against its own tests, with mutmut 3 (slow: not in the suite).

Run from the repository with the project's venv (``.venv/bin/python benchmarks/mutation.py``); mutmut is
installed into that venv from the ``dev`` extra when missing. For each module it copies the working tree
into ``mutants/<module>/`` (gitignored), writes that copy's ``setup.cfg`` ``[mutmut]`` section (the module
to mutate, its test files), runs ``mutmut run`` there, and prints mutants, killed, survivors, score,
target and whether the target is met, then the surviving mutants with their diffs. Mutants listed in
``benchmarks/mutation_equivalents.toml`` (they cannot change behaviour) are counted apart: the score is
killed / (mutants - equivalents). Exit 1 when a module misses its target.

    .venv/bin/python benchmarks/mutation.py                    # every module, one after the other
    .venv/bin/python benchmarks/mutation.py feed pull-plan     # some of them (the slugs below)
    .venv/bin/python benchmarks/mutation.py --sample 200 sync-plan   # a fixed random sample of its mutants

A whole run of sync/plan.py or sync/apply.py takes about an hour on two busy cores (every survivor reruns
some seventy push tests); ``--sample N`` tests the same N mutants on every run (``--seed``), for an
estimate of the score with its 95 % margin, in a fraction of the time.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EQUIVALENTS_FILE = REPO / "benchmarks" / "mutation_equivalents.toml"


@dataclass(frozen=True)
class Module:
    """A module to mutate, the tests that are its own, and the score it must reach."""

    slug: str
    path: str
    tests: tuple[str, ...]
    target: float


MODULES = (
    Module("sync-plan", "lms_sync/sync/plan.py", ("tests/sync/",), 90.0),
    Module("feed", "lms_sync/feed.py", ("tests/test_feed.py", "tests/test_feed_programmes.py"), 90.0),
    Module("program-loader", "lms_sync/program/loader.py", ("tests/test_program.py",), 90.0),
    Module("pull-plan", "lms_sync/pull/plan.py", ("tests/completion/",), 90.0),
    Module("moodle-transport", "lms_sync/moodle/transport.py", ("tests/moodle/",), 85.0),
    Module("sync-apply", "lms_sync/sync/apply.py", ("tests/sync/",), 85.0),
)

# Copied beside lms_sync/ and tests/ because tests read them (the shipped config, the deploy files, the README).
ALSO_COPY = ("config", "deploy", "docs", "README.md", "LICENSE", "benchmarks")
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "venv", "mutants", "__pycache__", ".hypothesis",
                                    ".pytest_cache", "*.egg-info", "var", "build", "dist")
STRINGS = re.compile(r'"([^"]*)"')
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
# Exit codes as mutmut 3 records them (mutmut/stats.py); anything else is "suspicious".
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          35: "suspicious", 36: "timeout", 37: "caught by type check", -24: "timeout", 24: "timeout",
          152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault", None: "not checked"}

# Run inside a module's copy: generate the mutants without running any test, so a sample can be drawn.
GENERATE = """
import os
from mutmut.__main__ import create_mutants
from mutmut.utils.file_utils import copy_src_dir
os.makedirs("mutants", exist_ok=True)
copy_src_dir()
create_mutants(1)
"""
# Run inside a module's copy: the diff of each named mutant, as JSON (mutmut's own reader of its files).
DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = sys.argv[1], sys.argv[2:]
print(json.dumps({n: get_diff_for_mutant(n, path=path) for n in names}))
"""


@dataclass
class Result:
    """What one module's run gave."""

    module: Module
    seconds: float
    status: dict[str, str]
    diffs: dict[str, str] = field(default_factory=dict)
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant name -> why
    population: int = 0  # mutants of the module when only a sample of them was tested (0: all were)

    @property
    def killed(self) -> int:
        return sum(s in KILLED for s in self.status.values())

    @property
    def survivors(self) -> list[str]:
        return sorted((n for n, s in self.status.items() if s not in KILLED and n not in self.equivalent),
                      key=_natural)

    @property
    def score(self) -> float:
        counted = len(self.status) - len(self.equivalent)
        return 100.0 * self.killed / counted if counted else 100.0

    @property
    def margin(self) -> float:
        """Half the 95 % confidence interval of a sampled score, in points (0 when every mutant was tested)."""
        counted = len(self.status) - len(self.equivalent)
        if not self.population or not counted:
            return 0.0
        p = self.killed / counted
        finite = math.sqrt(max(self.population - counted, 0) / max(self.population - 1, 1))
        return 100.0 * 1.96 * math.sqrt(p * (1 - p) / counted) * finite

    @property
    def met(self) -> bool:
        return self.score >= self.module.target


def _natural(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("_")
    return (head, int(number)) if number.isdigit() else (name, 0)


def changed_lines(diff: str) -> tuple[str, str]:
    """The original and mutated lines of a diff, whitespace-trimmed: a description stable across runs."""
    old = " | ".join(line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    new = " | ".join(line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return old, new


def function_of(name: str) -> str:
    """``lms_sync.feed.x_build__mutmut_12`` -> ``build`` (``xǁClassǁmethod`` -> ``Class.method``)."""
    short = name.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    short = short.removeprefix("x_").removeprefix("xǁ")
    return short.replace("ǁ", ".")


def load_equivalents() -> list[dict[str, str]]:
    """The known equivalent mutants: module, function, original and mutated line (or a rule), and why."""
    if not EQUIVALENTS_FILE.exists():
        return []
    entries = tomllib.loads(EQUIVALENTS_FILE.read_text(encoding="utf-8")).get("equivalent", [])
    for number, entry in enumerate(entries, 1):
        needed = {"module", "function", "why"} | ({"original"} if entry.get("match") else {"original", "mutant"})
        missing = needed - set(entry)
        if missing or entry.get("match", "case") not in ("case", "glob"):
            sys.exit(f"{EQUIVALENTS_FILE}: [[equivalent]] number {number}: lacks {', '.join(sorted(missing))} or has "
                     "a match other than \"case\" or \"glob\"")
    return entries


def is_equivalent(entry: dict[str, str], path: str, function: str, old: str, new: str) -> bool:
    """Whether a mutant (its module, function and changed lines) is the one an equivalents entry describes.

    ``function`` is a shell pattern; ``match = "case"`` stands for every mutant that only changes the case of
    one name (the first string, or a string used as a dict key) of an ``original`` line matching a pattern
    (iCalendar property and parameter names, which the library upper-cases anyway);
    ``match = "glob"`` compares both lines with shell patterns; otherwise both lines must be equal.
    """
    if entry["module"] != path or not fnmatch.fnmatchcase(function, entry["function"]):
        return False
    if entry.get("match") == "case":
        return fnmatch.fnmatchcase(old, entry["original"]) and _only_a_name_recased(old, new)
    if entry.get("match") == "glob":
        return fnmatch.fnmatchcase(old, entry["original"]) and fnmatch.fnmatchcase(new, entry.get("mutant", "*"))
    return (entry["original"].strip(), entry["mutant"].strip()) == (old, new)


def _only_a_name_recased(old: str, new: str) -> bool:
    """Whether ``new`` is ``old`` with one name in another case: its first string, or a string used as a key."""
    old_parts, new_parts = STRINGS.split(old), STRINGS.split(new)
    if len(old_parts) != len(new_parts):
        return False
    changed = [i for i, (a, b) in enumerate(zip(old_parts, new_parts, strict=True)) if a != b]
    if len(changed) != 1 or changed[0] % 2 == 0:  # odd parts are the strings' contents
        return False
    i = changed[0]
    is_name = i == 1 or old_parts[i + 1].startswith(":")
    return is_name and old_parts[i].lower() == new_parts[i].lower()


def ensure_mutmut() -> None:
    """mutmut 3 in this interpreter's environment, installed from the dev extra when missing."""
    try:
        import mutmut  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "mutmut>=3.8,<4"], check=True)


def prepare(module: Module) -> Path:
    """A fresh copy of the working tree for this module, with its mutmut configuration."""
    work = REPO / "mutants" / module.slug
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(REPO, work, ignore=NOT_COPIED, symlinks=True)
    lines = ["[mutmut]", "source_paths = lms_sync", f"only_mutate = {module.path}",
             "pytest_add_cli_args_test_selection ="]
    lines += [f"    {test}" for test in module.tests]
    lines += ["also_copy ="] + [f"    {path}" for path in ALSO_COPY]
    (work / "setup.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return work


def run_module(module: Module, jobs: int, equivalents: list[dict[str, str]], sample: int = 0, seed: int = 15,
               names: tuple[str, ...] = ()) -> Result:
    """Mutate one module, run its tests against each mutant (or a sample), and read back what survived."""
    work = prepare(module)
    env = dict(os.environ, HYPOTHESIS_PROFILE="mutation")
    env.pop("PYTHONPATH", None)
    mutmut = [sys.executable, "-c", "import sys; from mutmut.__main__ import cli; sys.exit(cli())"]
    log = work / "mutmut-run.log"
    meta = work / "mutants" / (module.path + ".meta")
    print(f"== {module.path} (tests: {' '.join(module.tests)}; log: {log.relative_to(REPO)})", flush=True)
    start = time.monotonic()
    chosen: list[str] = list(names)
    population = 0
    if sample and not chosen:
        subprocess.run([sys.executable, "-c", GENERATE], cwd=work, env=env, check=True, capture_output=True)
        every = sorted(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"], key=_natural)
        if sample < len(every):
            population = len(every)
            chosen = sorted(random.Random(f"{seed}:{module.path}").sample(every, sample), key=_natural)
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run([*mutmut, "run", "--max-children", str(jobs), *chosen], cwd=work, env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if done.returncode != 0 or not meta.exists():
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        sys.exit(f"mutmut failed on {module.path} (exit {done.returncode}); the end of {log}:\n" + "\n".join(tail))
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    if chosen:
        codes = {name: codes[name] for name in chosen}
    result = Result(module, seconds, {name: STATUS.get(code, "suspicious") for name, code in codes.items()},
                    population=population)
    not_killed = [n for n, s in result.status.items() if s not in KILLED]
    if not_killed:
        shown = subprocess.run([sys.executable, "-c", DIFFS, module.path, *not_killed], cwd=work, env=env,
                               capture_output=True, text=True, check=True)
        result.diffs = json.loads(shown.stdout)
    for name in not_killed:
        old, new = changed_lines(result.diffs.get(name, ""))
        for entry in equivalents:
            if is_equivalent(entry, module.path, function_of(name), old, new):
                result.equivalent[name] = entry["why"]
                break
    return result


def print_result(result: Result, show_diffs: bool) -> None:
    """One module's figures, then its survivors (name, status, diff)."""
    total, eq = len(result.status), len(result.equivalent)
    sampled = f" (a sample of {result.population})" if result.population else ""
    margin = f" ± {result.margin:.1f}" if result.population else ""
    print(f"{result.module.path}: {total} mutants{sampled}, {result.killed} killed, {len(result.survivors)} survivors, "
          f"{eq} equivalent; score {result.score:.1f}{margin} % (target {result.module.target:.0f} %: "
          f"{'met' if result.met else 'MISSED'}); {result.seconds:.0f} s", flush=True)
    for name in result.survivors:
        print(f"  survivor {name} ({result.status[name]})")
        if show_diffs:
            for line in result.diffs.get(name, "").splitlines()[2:]:
                if line.startswith(("-", "+")):
                    print(f"      {line}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen modules one after the other; exit 1 when one misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module slugs: " + ", ".join(m.slug for m in MODULES))
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--no-diffs", action="store_true", help="list surviving mutants by name only")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="test a fixed random sample of N mutants per module (default: all of them)")
    parser.add_argument("--seed", type=int, default=15, help="the sample's seed (default 15: the same sample each run)")
    parser.add_argument("--mutants", nargs="+", default=(), metavar="NAME",
                        help="test only these mutants of the one module named (e.g. the survivors of a run)")
    args = parser.parse_args(argv)
    by_slug = {m.slug: m for m in MODULES}
    unknown = [s for s in args.modules if s not in by_slug]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(by_slug)}")
    chosen = [by_slug[s] for s in args.modules] or list(MODULES)
    if args.mutants and len(chosen) != 1:
        parser.error("--mutants needs exactly one module")
    ensure_mutmut()
    equivalents = load_equivalents()
    results = []
    for module in chosen:
        result = run_module(module, args.jobs, equivalents, args.sample, args.seed, tuple(args.mutants))
        print_result(result, not args.no_diffs)
        results.append(result)
    print("\n| module | mutants | killed | survivors | equivalent | score | target | met | time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        mutants = f"{len(r.status)} of {r.population}" if r.population else str(len(r.status))
        margin = f" ± {r.margin:.1f}" if r.population else ""
        print(f"| `{r.module.path}` | {mutants} | {r.killed} | {len(r.survivors)} | {len(r.equivalent)} | "
              f"{r.score:.1f}{margin} % | {r.module.target:.0f} % | {'yes' if r.met else 'NO'} | {r.seconds:.0f} s |")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
