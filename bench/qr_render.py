"""QR rendering per ticket: first render (encoding + path) and later renders (cache), the QR
version of real ticket texts, and the SVG/PNG sizes. Writes the "QR" section of RESULTS.md.

Target (QUALITY.md): a ticket's QR text fits version 10 or lower at correction M; rendering a
QR SVG is well under a millisecond per ticket after the first. The reference measured in the
same run is qrcode's own SVG path image (`qrcode.image.svg.SvgPathImage`) for the same texts.

    .venv/bin/python -m bench.qr_render [--tickets 300] [--repeats 20000]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

from bench import machine_summary, update_results
from youth_hub.tickets import qr
from youth_hub.tickets.signing import sign_ticket


def _clear_caches() -> None:
    qr.qr_matrix.cache_clear()
    qr._svg.cache_clear()
    qr.qr_png.cache_clear()


# CPU time of this thread, not wall time: on a shared, loaded machine the wall clock also
# counts the time other processes held the core, which says nothing about our code.
_clock = time.thread_time_ns


def _each_ms(func: Callable[[str], object], texts: list[str]) -> list[float]:
    """Milliseconds (thread CPU) per call, one timing per text."""
    out = []
    for text in texts:
        start = _clock()
        func(text)
        out.append((_clock() - start) / 1e6)
    return out


def _batched_us(func: Callable[[], object], calls: int, batch: int = 1000) -> float:
    """Median microseconds (thread CPU) per call over batches (one call is too short to time)."""
    per_call = []
    for _ in range(max(1, calls // batch)):
        start = _clock()
        for _ in range(batch):
            func()
        per_call.append((_clock() - start) / 1e3 / batch)
    return statistics.median(per_call)


def _reference_svg(text: str) -> str:
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M,
        border=qr.QUIET_ZONE,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(text)
    code.make(fit=True)
    return str(code.make_image().to_string(encoding="unicode"))


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=300, help="distinct tickets (first renders)")
    parser.add_argument("--repeats", type=int, default=20_000, help="renders of one ticket")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        # Realistic ids (a regency's first years) and the largest the payload can carry.
        texts = [sign_ticket(data_dir, 1000 + 7919 * i, 1 + i % 400) for i in range(args.tickets)]
        extreme = [
            sign_ticket(data_dir, 2**63 - 1, 2**63 - 1),
            sign_ticket(data_dir, 2**31 - 1, 2**31 - 1),
        ]

    _clear_caches()
    first_ms = _each_ms(qr.qr_svg, texts)  # cold: encode + path + SVG
    again_ms = _each_ms(qr.qr_svg, texts)  # the same tickets viewed again: cache hits
    matrices = [qr.qr_matrix(t) for t in texts]
    path_us = [
        v * 1000
        for v in _each_ms(
            lambda i: qr._path_data(matrices[int(i)]), [str(i) for i in range(len(matrices))]
        )
    ]
    one = texts[0]
    repeat_us = _batched_us(lambda: qr.qr_svg(one), args.repeats)
    repeat_label_us = _batched_us(lambda: qr.qr_svg(one, label="Kode QR tiket Anda"), args.repeats)

    reference_ms = _each_ms(_reference_svg, texts[: min(100, len(texts))])

    _clear_caches()
    png_first_ms = _each_ms(qr.qr_png, texts[:50])
    png_again_us = _batched_us(lambda: qr.qr_png(one), min(args.repeats, 5000))

    versions = Counter(qr.qr_version(t) for t in texts)
    extreme_versions = [qr.qr_version(t) for t in extreme]
    svg = qr.qr_svg(one)
    png = qr.qr_png(one)

    first_median = statistics.median(first_ms)
    reference_median = statistics.median(reference_ms)
    lines = [
        machine_summary(),
        "",
        f"{len(texts)} distinct signed tickets; one ticket rendered {args.repeats:,} times. "
        "Times are CPU time of the rendering thread (time.thread_time_ns), so other work on "
        "the shared cores does not inflate them. Reference: qrcode's own SvgPathImage for the "
        "same texts, same run.",
        "",
        "| measure | median | p90 |",
        "| --- | --- | --- |",
        f"| QR SVG, first render of a ticket (encode + path) | {first_median:.2f} ms | "
        f"{_p(first_ms, 0.9):.2f} ms |",
        f"| reference: qrcode SvgPathImage, per ticket | {reference_median:.2f} ms | "
        f"{_p(reference_ms, 0.9):.2f} ms |",
        f"| path building alone (from the module matrix) | {statistics.median(path_us):.0f} µs | "
        f"{_p(path_us, 0.9):.0f} µs |",
        f"| QR SVG, same tickets again (cache) | {statistics.median(again_ms) * 1000:.1f} µs | "
        f"{_p(again_ms, 0.9) * 1000:.1f} µs |",
        f"| QR SVG, one ticket repeated (batched) | {repeat_us:.2f} µs | |",
        f"| QR SVG, one ticket repeated, page label (batched) | {repeat_label_us:.2f} µs | |",
        f"| QR PNG, first render of a ticket | {statistics.median(png_first_ms):.2f} ms | "
        f"{_p(png_first_ms, 0.9):.2f} ms |",
        f"| QR PNG, repeated (batched) | {png_again_us:.2f} µs | |",
        "",
        f"- First render vs reference: {first_median / reference_median:.2f}× its time "
        "(the encoding is qrcode's in both; ours differs in the path and the cache).",
        f"- After the first: {statistics.median(again_ms) * 1000:.1f} µs per ticket "
        f"({statistics.median(again_ms):.4f} of the 1 ms budget); a ticket's first render "
        f"costs {first_median:.1f} ms once (the QR encoding: Reed-Solomon and 8 trial masks in "
        "pure Python), then it is cached per text (LRU, 4,096 tickets).",
        f"- QR text: {len(one)} characters; versions at M over the realistic tickets: "
        + ", ".join(f"v{v}: {n}" for v, n in sorted(versions.items()))
        + f"; largest ids (2^63−1, 2^31−1): v{extreme_versions[0]}, v{extreme_versions[1]} "
        "(limit v10).",
        f"- Sizes for one ticket: SVG {len(svg):,} B ({len(gzip.compress(svg.encode())):,} B "
        f"gzip), one `<path>`; PNG {len(png):,} B at {qr.PNG_MODULE_PIXELS} px per module.",
    ]
    body = "\n".join(lines)
    update_results("QR", body)
    print(body)


if __name__ == "__main__":
    main()
