"""`make bench`: every benchmark module present, one after the other, each with its defaults
(full but bounded runs); each writes its own section of bench/RESULTS.md.

    .venv/bin/python -m bench.run_all [--only pages,memory]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from typing import Any

from bench import BENCH_DIR, RESULTS_PATH

# In this order: the cheap, self-contained ones first.
MODULES = ("qr_render", "pages", "memory", "checkin", "registration_rush", "dispatch")


def present(names: tuple[str, ...] = MODULES) -> list[str]:
    return [name for name in names if (BENCH_DIR / f"{name}.py").exists()]


def _call_main(module: Any, name: str) -> None:
    """`main()` with the module's defaults: no arguments, and an argv of its own name only
    (a main() that parses sys.argv must not see run_all's options)."""
    saved = sys.argv
    sys.argv = [f"bench.{name}"]
    try:
        if inspect.signature(module.main).parameters:
            module.main([])
        else:
            module.main()
    finally:
        sys.argv = saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_all",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", default="", help="comma-separated module names")
    args = parser.parse_args(argv)
    wanted = tuple(n.strip() for n in args.only.split(",") if n.strip()) or MODULES
    unknown = [n for n in wanted if n not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(MODULES)}")
    names = present(wanted)
    missing = [n for n in wanted if n not in names]
    if missing:
        print(f"not written yet, skipped: {', '.join(missing)}")
    failed = []
    for name in names:
        print(f"\n=== bench.{name}", flush=True)
        started = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            _call_main(module, name)
        except Exception:
            # One broken benchmark must not cost the figures of the others.
            traceback.print_exc()
            failed.append(name)
        print(f"=== bench.{name}: {time.monotonic() - started:.0f} s", flush=True)
    print(f"\nFigures written to {RESULTS_PATH}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
