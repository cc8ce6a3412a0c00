"""Fixed lists of the catalogue: kinds of program and the kecamatan of Kabupaten Purbalingga."""

from __future__ import annotations

KINDS: tuple[str, ...] = ("workshop", "sport", "tour")

# The 18 kecamatan (districts) of Kabupaten Purbalingga, in alphabetical order.
PURBALINGGA_KECAMATAN: tuple[str, ...] = (
    "Bobotsari",
    "Bojongsari",
    "Bukateja",
    "Kaligondang",
    "Kalimanah",
    "Karanganyar",
    "Karangjambu",
    "Karangmoncol",
    "Karangreja",
    "Kejobong",
    "Kemangkon",
    "Kertanegara",
    "Kutasari",
    "Mrebet",
    "Padamara",
    "Pengadegan",
    "Purbalingga",
    "Rembang",
)
OTHER_KECAMATAN = "Lainnya"  # from outside the regency
KECAMATAN: tuple[str, ...] = (*PURBALINGGA_KECAMATAN, OTHER_KECAMATAN)

STATUSES: tuple[str, ...] = ("draft", "published", "finished", "cancelled")

PER_PAGE_PAGES = 12
PER_PAGE_API = 20
