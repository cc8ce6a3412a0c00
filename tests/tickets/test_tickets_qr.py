"""QR images: version ≤ 10 at M, the PNG and the SVG decode to the signed text, the SVG is
one <path> of valid XML with an accessible name."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from youth_hub.tickets import public_keys, qr_png, qr_svg, qr_version, sign_ticket
from youth_hub.tickets.qr import QUIET_ZONE, qr_matrix

SVG = "{http://www.w3.org/2000/svg}"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(image)
    return [r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode]


def rasterise(svg: str, scale: int = 6) -> Image.Image:
    """Draw the SVG's path as the browser would (rows of stroked runs) into a bitmap."""
    root = ET.fromstring(svg)
    _, _, width, height = (int(v) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (width * scale, height * scale), 255)
    pixels = image.load()
    path = root.find(f"{SVG}path")
    assert path is not None
    x = y = 0.0
    for command, args in re.findall(r"([MmHh])([^MmHh]*)", path.attrib["d"]):
        numbers = [float(n) for n in args.split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            row = int(y - 0.5)
            for col in range(int(x), int(x + numbers[0])):
                for dy in range(scale):
                    for dx in range(scale):
                        pixels[col * scale + dx, row * scale + dy] = 0
            x += numbers[0]
        else:
            raise AssertionError(f"unexpected path command {command}")
    return image


@pytest.fixture
def text(tmp_path: Path) -> str:
    return sign_ticket(tmp_path / "data", 123_456, 789)


def test_ticket_texts_fit_version_10_at_m(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # the largest ids the payload can carry still fit, with room to spare
    assert qr_version(sign_ticket(data_dir, 2**63 - 1, 2**63 - 1)) <= 10
    assert qr_version(sign_ticket(data_dir, 2**31 - 1, 2**31 - 1)) <= 7
    assert qr_version(sign_ticket(data_dir, 1, 1)) <= 6


def test_png_decodes_to_the_text_which_verifies_with_the_public_key_alone(
    tmp_path: Path, text: str
) -> None:
    png = qr_png(text)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.width == image.height >= 300
    assert decode(image) == [text]

    prefix, payload, signature = text.split(".")
    listed = {k["kid"]: k["public_key"] for k in public_keys(tmp_path / "data")}
    public_key = Ed25519PublicKey.from_public_bytes(unb64(listed[unb64(payload)[:4].hex()]))
    public_key.verify(unb64(signature), f"{prefix}.{payload}".encode("ascii"))


def test_png_has_a_quiet_zone(text: str) -> None:
    image = Image.open(io.BytesIO(qr_png(text))).convert("L")
    module = image.width // qr_matrix(text).size
    border = QUIET_ZONE * module
    for x in range(image.width):
        assert image.getpixel((x, border - 1)) == 255
        assert image.getpixel((x, image.height - border)) == 255


def test_svg_is_one_path_of_valid_xml_with_an_accessible_name(text: str) -> None:
    svg = qr_svg(text, label="Kode QR tiket Anda")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == "Kode QR tiket Anda"
    size = qr_matrix(text).size
    assert root.attrib["viewBox"] == f"0 0 {size} {size}"
    assert "width" not in root.attrib  # scalable: CSS decides the size
    assert len(root.findall(f"{SVG}path")) == 1
    assert "style" not in svg  # strict CSP: no inline styles
    assert len(svg) < 4000  # compact: about 3 kB for a ticket


def test_svg_decodes_to_the_text(text: str) -> None:
    assert decode(rasterise(qr_svg(text))) == [text]


def test_svg_path_draws_exactly_the_modules(text: str) -> None:
    matrix = qr_matrix(text)
    image = rasterise(qr_svg(text), scale=1)
    for y, row in enumerate(matrix.rows):
        drawn = bytes(1 if image.getpixel((x, y)) == 0 else 0 for x in range(matrix.size))
        assert drawn == row, f"row {y}"


def test_svg_label_and_class_are_escaped(text: str) -> None:
    svg = qr_svg(text, label="<script>\"&'", css_class='x" onload="alert(1)')
    root = ET.fromstring(svg)
    assert root.attrib["aria-label"] == "<script>\"&'"
    assert root.attrib["class"] == 'x" onload="alert(1)'
    assert "onload" not in root.attrib


def test_repeated_rendering_is_served_from_the_cache(text: str) -> None:
    first = qr_svg(text)
    assert qr_svg(text) is first
    assert qr_png(text) is qr_png(text)


def test_distinct_tickets_give_distinct_codes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    svgs = {qr_svg(sign_ticket(data_dir, n, 3)) for n in range(1, 6)}
    assert len(svgs) == 5
