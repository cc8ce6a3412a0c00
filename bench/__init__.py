"""Benchmarks run by hand (`make bench`): the floor app, a light load generator, server
start/stop helpers, and the figures they write to bench/RESULTS.md (see bench/README.md)."""

from __future__ import annotations

import fcntl
import os
import platform
import re
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_PATH = BENCH_DIR / "RESULTS.md"

RESULTS_HEADER = """# Youth Hub — benchmark figures

Written by `make bench` (or `python -m bench.<name>`); each benchmark rewrites only its own
`## ` section, so sections may come from different days. How the figures are made:

- Every speed figure is a **ratio** against the *floor* (bench/floor.py: a minimal Litestar app
  on the same database, served by the same uvicorn command with the same worker count, doing
  only the one essential statement), measured **interleaved** in the same run (floor, product,
  floor, product…); each side's figure is the median over the rounds. Absolute req/s and
  milliseconds are shown for context only: the machines are shared and noisy.
- Load: closed loop, a fixed number of clients, a bounded number of requests per run, loopback
  only (bench/loadgen.py). Latencies are measured by the client: median and 99th percentile.
- Counts (bytes, queries, seats, resident memory) do not depend on speed.
"""

_SECTION = re.compile(r"^## (.+?)\s*$", re.MULTILINE)


def update_results(title: str, body: str, path: Path = RESULTS_PATH) -> None:
    """Replace (or append) the `## title` section of RESULTS.md, leaving the others as they are.

    Locked, because several benchmarks (and people) write their sections to the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            text = handle.read() or RESULTS_HEADER
            new_section = f"## {title}\n\n{body.strip()}\n"
            matches = list(_SECTION.finditer(text))
            for index, match in enumerate(matches):
                if match.group(1) == title:
                    end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
                    text = text[: match.start()] + new_section + "\n" + text[end:].lstrip("\n")
                    break
            else:
                text = text.rstrip("\n") + "\n\n" + new_section
            handle.seek(0)
            handle.truncate()
            handle.write(text.rstrip("\n") + "\n")
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def product_revision() -> str:
    """The commit measured: git's, or a REVISION file in an exported tree (see README)."""
    root = BENCH_DIR.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"commit {out}" + (" with uncommitted changes in the tree" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    revision = root / "REVISION"
    return f"commit {revision.read_text().strip()}" if revision.exists() else "unknown revision"


def machine_summary() -> str:
    """One line for RESULTS.md: when, what, on what, with which software."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}, {product_revision()}; {cores} cores ({cpu_model()}), shared with other "
        f"work; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}×"
