#!/usr/bin/env python3
"""Benchmark the peak memory of ``lms-sync validate`` on a 1 GB programme file (and on the shipped one).

The big file is the shipped programme followed by zeros up to ``--size-mb`` (sparse: it costs no
disk). ``validate`` must refuse it with exit 2, reading no more than its size cap, so its peak
memory stays close to that of validating the shipped programme. Each run is its own process; its
peak RSS is the child's ``ru_maxrss``.

Target (issue 10): peak memory under 100 MB. Prints PASS or FAIL and exits 1 on FAIL.

    python benchmarks/bench_validate_memory.py
    python benchmarks/bench_validate_memory.py --size-mb 4096
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 100.0


def peak_of(program: Path, cwd: Path) -> tuple[int, float, float, str]:
    """Run validate in a child; (exit code, peak RSS in MB, seconds, last line of stderr)."""
    child = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(p.returncode, peak, (p.stderr.strip().splitlines() or [''])[-1][:160], sep='\\t')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_SYNC_")}
    started = time.monotonic()
    # A fresh wrapper per run, so ru_maxrss is this validate's alone.
    out = subprocess.run([sys.executable, "-c", child, sys.executable, "-m", "lms_sync", "--program", str(program),
                          "validate"], capture_output=True, text=True, cwd=cwd, env=env, check=True).stdout
    seconds = time.monotonic() - started
    code, peak_kb, last = out.rstrip("\n").split("\t", 2)
    return int(code), int(peak_kb) / 1024, seconds, last


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when the target is met."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the big programme file (default 1024)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        folder = Path(tmp)
        shipped = folder / "program.toml"
        shutil.copy(REPO / "config" / "program.toml", shipped)
        big = folder / "big.toml"
        shutil.copy(shipped, big)
        with big.open("r+b") as handle:
            handle.truncate(args.size_mb * 1024 * 1024)
        code_small, peak_small, secs_small, _ = peak_of(shipped, folder)
        code_big, peak_big, secs_big, last = peak_of(big, folder)
    print(f"shipped programme: exit {code_small}, peak RSS {peak_small:.1f} MB, {secs_small:.2f} s")
    print(f"{args.size_mb} MB programme: exit {code_big}, peak RSS {peak_big:.1f} MB, {secs_big:.2f} s")
    print(f"  {last}")
    failures = []
    if code_small != 0:
        failures.append(f"the shipped programme did not validate (exit {code_small})")
    if code_big != 2:
        failures.append(f"the big file gave exit {code_big}, not 2")
    if peak_big >= TARGET_MB:
        failures.append(f"peak RSS {peak_big:.1f} MB >= {TARGET_MB:.0f} MB")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print(f"PASS: validate on {args.size_mb} MB peaks at {peak_big:.1f} MB (target < {TARGET_MB:.0f} MB), exit 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
