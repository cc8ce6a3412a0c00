"""QR images of a ticket's signed text: a compact inline SVG (one <path>) and a PNG.

Encoding (Reed-Solomon, eight trial masks) costs ~10 ms in pure Python, so the module matrix
is cached per text; a ticket's text is stable (Ed25519 signatures are deterministic), so every
view after the first is a cache hit and the SVG/PNG are built from the cached matrix.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white around the code, as the standard asks
PNG_MODULE_PIXELS = 8  # 8 px per module: ~460 px for a version-6 code, sharp on any phone
_RUNS = re.compile(rb"\x01+|\x00+")


@dataclass(frozen=True)
class QRMatrix:
    version: int
    size: int  # modules per side, quiet zone included
    rows: tuple[bytes, ...]  # one byte per module, 1 = dark, quiet zone included


@lru_cache(maxsize=4096)
def qr_matrix(text: str) -> QRMatrix:
    """The modules of `text` at error correction M, smallest version that fits."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    rows = tuple(bytes(bool(cell) for cell in row) for row in code.get_matrix())
    return QRMatrix(version=int(code.version), size=len(rows), rows=rows)


def qr_version(text: str) -> int:
    return qr_matrix(text).version


def _run_tokens() -> dict[bytes, str]:
    # Every possible run of dark ("h<w>": draw) or light ("m<w> 0": skip) modules, precomputed.
    tokens: dict[bytes, str] = {}
    for width in range(1, 200):  # version 40 with its quiet zone is 185 modules wide
        tokens[b"\x01" * width] = f"h{width}"
        tokens[b"\x00" * width] = f"m{width} 0"
    return tokens


_TOKENS = _run_tokens()


def _path_data(matrix: QRMatrix) -> str:
    # One stroked line per row through the modules' middle (y + 0.5, stroke width 1): the
    # tokens come from a lookup table, so the only Python work per row is one findall and map.
    token = _TOKENS.__getitem__
    parts: list[str] = []
    for y, row in enumerate(matrix.rows):
        row = row.rstrip(b"\x00")
        if row:
            parts.append(f"M0 {y}.5")
            parts.extend(map(token, _RUNS.findall(row)))
    return "".join(parts)


@lru_cache(maxsize=4096)
def _svg(text: str, label: str, css_class: str) -> str:
    matrix = qr_matrix(text)
    n = matrix.size
    class_attr = f' class="{escape(css_class)}"' if css_class else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{class_attr} '
        f'role="img" aria-label="{escape(label)}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path stroke="#000" stroke-width="1" fill="none" d="{_path_data(matrix)}"/></svg>'
    )


def qr_svg(text: str, *, label: str = "QR code", css_class: str = "qr") -> str:
    """A scalable SVG (viewBox only: size it with CSS) whose modules are one <path>.

    Safe to insert unescaped into a page: the label and class are escaped, the rest is ours.
    """
    return _svg(text, label, css_class)


@lru_cache(maxsize=512)
def qr_png(text: str, module_pixels: int = PNG_MODULE_PIXELS) -> bytes:
    """A black-and-white PNG of the code, quiet zone included (Pillow, through fpdf2)."""
    from PIL import Image

    matrix = qr_matrix(text)
    n = matrix.size
    # Mode "L" from raw bytes: 0 = black, 255 = white; then scale without smoothing.
    raw = b"".join(row.translate(_TO_GREY) for row in matrix.rows)
    image = Image.frombytes("L", (n, n), raw).convert("1")
    image = image.resize((n * module_pixels, n * module_pixels), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


_TO_GREY = bytes.maketrans(b"\x00\x01", b"\xff\x00")
