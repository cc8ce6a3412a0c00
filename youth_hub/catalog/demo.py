"""Demo data: staff logins of every role and realistic programs of Kabupaten Purbalingga.

Idempotent: staff are keyed on their email and programs on their slug, so running it twice
adds nothing. Times are relative to now (in WIB), so there are always past and upcoming
programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from youth_hub.accounts import CurrentUser, Role
from youth_hub.accounts.services import create_staff_user
from youth_hub.accounts.tables import StaffUser
from youth_hub.catalog.services import create_program, slugify
from youth_hub.catalog.tables import Program
from youth_hub.web.formats import display_timezone

# (email, role, name, password): one login per role, printed by `youth-hub demo`.
DEMO_STAFF: tuple[tuple[str, str, str, str], ...] = (
    ("admin@demo.youthhub.id", "admin", "Admin Youth Hub", "demo-admin-2026"),
    (
        "dinporapar@demo.youthhub.id",
        "dinporapar",
        "Bidang Pariwisata Dinporapar",
        "demo-dinporapar-2026",
    ),
    (
        "organiser@demo.youthhub.id",
        "organiser",
        "Tim Pengabdian Universitas Perwira Purbalingga",
        "demo-organiser-2026",
    ),
    ("scanner@demo.youthhub.id", "scanner", "Relawan Pemindai", "demo-scanner-2026"),
)
# A second organiser owns the sport programs (shows that organisers see only their own);
# its password is generated and never printed.
COACH = ("pelatih@demo.youthhub.id", "organiser", "Akademi Olahraga Purbalingga")

ALUN_ALUN = (-7.3887, 109.3637)  # Alun-alun Purbalingga, the usual meeting point


@dataclass
class Stop:
    day: int  # days from today (WIB); negative for past programs
    start: str  # "07:30" WIB
    end: str
    title: str
    location: str
    checkin: bool = False


@dataclass
class DemoProgram:
    owner: str  # email of the staff member who creates it
    kind: str
    title: str
    summary: str
    description: str
    kecamatan: str
    venue: str
    capacity: int
    stops: Sequence[Stop]
    topics: Sequence[str] = ()
    price_idr: int = 0
    age: tuple[int, int] = (16, 30)
    coordinates: tuple[float, float] | None = None
    waitlist_limit: int | None = None
    publish: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _weekly(
    first_day: int, count: int, start: str, end: str, titles: Sequence[str], location: str
) -> list[Stop]:
    return [
        Stop(
            first_day + 7 * i,
            start,
            end,
            titles[i] if i < len(titles) else f"Pertemuan {i + 1}",
            location,
            checkin=True,
        )
        for i in range(count)
    ]


DEMO_PROGRAMS: tuple[DemoProgram, ...] = (
    # ------------------------------------------------------------------ workshops
    DemoProgram(
        owner="organiser@demo.youthhub.id",
        kind="workshop",
        title="Sekolah Kepemimpinan Pemuda Purbalingga",
        summary="Tiga pertemuan tentang memimpin organisasi pemuda, karang taruna dan OSIS: "
        "komunikasi, rapat yang efektif, dan merancang program desa.",
        description="Sekolah kepemimpinan untuk pengurus karang taruna, OSIS, dan komunitas "
        "pemuda di Purbalingga.\n\nMateri: gaya kepemimpinan, komunikasi publik, "
        "memimpin rapat, menyusun proposal kegiatan, dan praktik merancang program "
        "untuk desa sendiri.\n\nTermasuk: modul, makan siang, dan sertifikat bagi "
        "yang hadir di semua pertemuan. Bawa laptop atau buku catatan.",
        kecamatan="Purbalingga",
        venue="Pendopo Dipokusumo, Jl. Alun-alun Utara",
        coordinates=ALUN_ALUN,
        capacity=40,
        topics=("leadership", "organisasi", "karang-taruna"),
        stops=_weekly(
            10,
            3,
            "08:30",
            "12:00",
            (
                "Gaya kepemimpinan dan komunikasi",
                "Memimpin rapat dan mengambil keputusan",
                "Merancang program untuk desa",
            ),
            "Pendopo Dipokusumo",
        ),
    ),
    DemoProgram(
        owner="organiser@demo.youthhub.id",
        kind="workshop",
        title="Kelas Coding Dasar: Membuat Website Pertamamu",
        summary="Empat sesi praktik HTML, CSS, dan sedikit JavaScript sampai punya website "
        "profil sendiri yang bisa dibuka dari ponsel.",
        description="Tidak perlu pengalaman. Setiap peserta membuat website profil atau "
        "website usaha keluarga.\n\nTermasuk: akses komputer lab, camilan, dan "
        "pendampingan mentor mahasiswa. Boleh membawa laptop sendiri.",
        kecamatan="Bobotsari",
        venue="Aula Kecamatan Bobotsari",
        capacity=25,
        price_idr=50_000,
        age=(15, 25),
        topics=("coding", "teknologi", "web"),
        stops=_weekly(
            14,
            4,
            "13:00",
            "16:00",
            (
                "HTML: kerangka halaman",
                "CSS: tampilan",
                "JavaScript pertama",
                "Terbitkan websitemu",
            ),
            "Aula Kecamatan Bobotsari",
        ),
    ),
    DemoProgram(
        owner="organiser@demo.youthhub.id",
        kind="workshop",
        title="Kewirausahaan Digital untuk BUMDes",
        summary="Pemasaran digital, katalog daring, dan pembukuan sederhana untuk pengelola "
        "BUMDes dan UMKM desa.",
        description="Untuk pemuda pengelola BUMDes dan usaha desa: memotret produk dengan "
        "ponsel, membuat katalog di marketplace, iklan berbayar yang hemat, dan "
        "pembukuan dengan spreadsheet.\n\nTermasuk: makan siang dan templat "
        "pembukuan. Peserta membawa contoh produk desanya.",
        kecamatan="Karangreja",
        venue="Balai Desa Serang, Karangreja",
        capacity=30,
        topics=("kewirausahaan", "bumdes", "pemasaran-digital"),
        stops=[
            Stop(
                21, "09:00", "15:00", "Produk, foto, dan katalog daring", "Balai Desa Serang", True
            ),
            Stop(
                22,
                "09:00",
                "15:00",
                "Iklan hemat dan pembukuan sederhana",
                "Balai Desa Serang",
                True,
            ),
        ],
    ),
    DemoProgram(
        owner="organiser@demo.youthhub.id",
        kind="workshop",
        title="Fotografi Ponsel untuk Promosi Desa Wisata",
        summary="Teknik memotret dan menyunting dengan ponsel untuk promosi desa wisata.",
        description="Praktik langsung di lapangan: cahaya, komposisi, dan menyunting foto "
        "untuk media sosial desa wisata.\n\nTermasuk: makan siang dan sertifikat.",
        kecamatan="Kutasari",
        venue="Balai Desa Limbasari",
        capacity=30,
        topics=("fotografi", "pariwisata"),
        stops=[Stop(-30, "08:00", "14:00", "Memotret dan menyunting", "Desa Limbasari", True)],
        extra={"finished": True},
    ),
    DemoProgram(
        owner="organiser@demo.youthhub.id",
        kind="workshop",
        title="Literasi Keuangan untuk Pemuda",
        summary="Menabung, mengenali pinjaman daring ilegal, dan merencanakan modal usaha.",
        description="Satu sesi bersama praktisi keuangan: menyusun anggaran pribadi, "
        "mengenali pinjol ilegal, dan merencanakan modal usaha pertama.",
        kecamatan="Bukateja",
        venue="Aula Kecamatan Bukateja",
        capacity=50,
        price_idr=25_000,
        topics=("keuangan", "kewirausahaan"),
        stops=[
            Stop(
                30,
                "09:00",
                "12:00",
                "Anggaran, tabungan, dan pinjaman",
                "Aula Kecamatan Bukateja",
                True,
            )
        ],
        publish=False,  # a draft, to show the publish button
    ),
    # ------------------------------------------------------------------ academic sports
    DemoProgram(
        owner=COACH[0],
        kind="sport",
        title="Klinik Sains Olahraga: Gizi dan Pemulihan Atlet Muda",
        summary="Kelas sains olahraga: gizi atlet, tidur, cedera ringan, dan tes kebugaran "
        "sederhana.",
        description="Bersama dosen ilmu keolahragaan dan fisioterapis. Peserta mengikuti tes "
        "kebugaran (lari bolak-balik, lompat vertikal) dan mendapat rekomendasi "
        "latihan.\n\nTermasuk: snack sehat dan lembar hasil tes. Pakai pakaian "
        "olahraga.",
        kecamatan="Purbalingga",
        venue="Stadion Goentoer Darjono",
        capacity=60,
        topics=("sains-olahraga", "gizi", "kebugaran"),
        stops=[
            Stop(
                9, "07:00", "11:00", "Gizi, tidur, dan pemulihan", "Ruang pertemuan stadion", True
            ),
            Stop(
                16,
                "07:00",
                "11:00",
                "Tes kebugaran dan program latihan",
                "Lapangan Stadion Goentoer Darjono",
                True,
            ),
        ],
    ),
    DemoProgram(
        owner=COACH[0],
        kind="sport",
        title="Pelatihan Futsal dan Analisis Taktik",
        summary="Empat pekan latihan futsal dengan kelas analisis video pertandingan.",
        description="Setiap pertemuan: 45 menit kelas taktik dengan video, lalu latihan di "
        "lapangan. Pekan terakhir: pertandingan persahabatan.\n\nTermasuk: air "
        "minum dan rompi latihan. Bawa sepatu futsal.",
        kecamatan="Kalimanah",
        venue="GOR Futsal Kalimanah",
        capacity=32,
        price_idr=75_000,
        age=(13, 21),
        topics=("futsal", "taktik"),
        waitlist_limit=10,
        stops=_weekly(
            12,
            4,
            "15:30",
            "17:30",
            ("Pola 2-2 dan transisi", "Bertahan zona", "Bola mati", "Pertandingan persahabatan"),
            "GOR Futsal Kalimanah",
        ),
    ),
    DemoProgram(
        owner=COACH[0],
        kind="sport",
        title="Akademi Bulu Tangkis Remaja",
        summary="Enam pekan teknik dasar, footwork, dan teori pertandingan untuk pelajar.",
        description="Dilatih pelatih bersertifikat. Setiap sesi dibuka dengan teori singkat "
        "(aturan, strategi ganda, pencegahan cedera).\n\nTermasuk: kok latihan. "
        "Bawa raket sendiri (tersedia pinjaman terbatas).",
        kecamatan="Padamara",
        venue="GOR Bulu Tangkis Padamara",
        capacity=24,
        price_idr=100_000,
        age=(13, 18),
        topics=("bulu-tangkis", "pelajar"),
        stops=_weekly(5, 6, "15:00", "17:00", (), "GOR Bulu Tangkis Padamara"),
    ),
    DemoProgram(
        owner=COACH[0],
        kind="sport",
        title="Turnamen Bola Voli Pelajar dan Kelas Wasit",
        summary="Turnamen antarsekolah dengan kelas perwasitan bagi pemain cadangan.",
        description="Turnamen satu hari dan kelas dasar perwasitan bola voli.",
        kecamatan="Bukateja",
        venue="Lapangan Voli Bukateja",
        capacity=96,
        topics=("bola-voli", "wasit"),
        stops=[
            Stop(-45, "07:00", "16:00", "Turnamen dan kelas wasit", "Lapangan Voli Bukateja", True)
        ],
        extra={"finished": True},
    ),
    # ------------------------------------------------------------------ educational tours
    DemoProgram(
        owner="dinporapar@demo.youthhub.id",
        kind="tour",
        title="Wisata Edukatif Owabong dan Sanggaluri Park",
        summary="Sehari belajar pengelolaan wisata air di Owabong dan museum di Sanggaluri Park.",
        description="Berangkat bersama dari Alun-alun Purbalingga dengan bus.\n\n"
        "Termasuk: bus pulang-pergi, tiket masuk Owabong dan Sanggaluri Park, makan "
        "siang, air minum, pemandu, dan asuransi perjalanan.\n\nBawa: baju ganti, "
        "handuk, topi, dan botol minum.",
        kecamatan="Bojongsari",
        venue="Titik kumpul: Alun-alun Purbalingga",
        coordinates=ALUN_ALUN,
        capacity=45,
        price_idr=150_000,
        age=(13, 30),
        topics=("wisata-edukatif", "pariwisata", "museum"),
        stops=[
            Stop(16, "07:00", "07:30", "Berkumpul dan presensi", "Alun-alun Purbalingga", True),
            Stop(
                16,
                "08:00",
                "10:30",
                "Owabong: di balik layar pengelolaan wisata air",
                "Owabong, Bojongsari",
                True,
            ),
            Stop(16, "11:00", "12:00", "Makan siang", "Rumah makan di Bojongsari"),
            Stop(
                16,
                "12:30",
                "15:00",
                "Sanggaluri Park: museum uang, reptil, dan wayang",
                "Sanggaluri Park, Kutasari",
                True,
            ),
            Stop(16, "15:30", "16:00", "Kembali ke Alun-alun", "Alun-alun Purbalingga"),
        ],
    ),
    DemoProgram(
        owner="dinporapar@demo.youthhub.id",
        kind="tour",
        title="Jelajah Goa Lawa dan Desa Wisata Panusupan",
        summary="Dua hari: geologi Goa Lawa, menginap di rumah warga, dan belajar membuat gula "
        "kelapa di Panusupan.",
        description="Hari pertama mengenal goa lava Goa Lawa di lereng Gunung Slamet, hari "
        "kedua hidup sehari bersama warga Desa Wisata Panusupan.\n\nTermasuk: "
        "transportasi, tiket masuk, homestay satu malam, makan tiga kali, pemandu "
        "lokal.\n\nBawa: jaket, senter, obat pribadi.",
        kecamatan="Karangreja",
        venue="Titik kumpul: Alun-alun Purbalingga",
        coordinates=ALUN_ALUN,
        capacity=30,
        price_idr=250_000,
        age=(16, 30),
        topics=("wisata-edukatif", "geologi", "desa-wisata"),
        stops=[
            Stop(25, "06:30", "07:00", "Berkumpul dan presensi", "Alun-alun Purbalingga", True),
            Stop(
                25,
                "08:30",
                "11:30",
                "Goa Lawa: terbentuknya goa lava",
                "Goa Lawa, Karangreja",
                True,
            ),
            Stop(
                25,
                "13:00",
                "17:00",
                "Tiba di Panusupan, pembagian homestay",
                "Desa Wisata Panusupan, Rembang",
            ),
            Stop(
                26,
                "06:00",
                "09:00",
                "Menyadap nira dan membuat gula kelapa",
                "Desa Wisata Panusupan, Rembang",
                True,
            ),
            Stop(26, "13:00", "15:00", "Kembali ke Alun-alun", "Alun-alun Purbalingga"),
        ],
    ),
    DemoProgram(
        owner="dinporapar@demo.youthhub.id",
        kind="tour",
        title="Industri Kreatif Purbalingga: Knalpot dan Bulu Mata",
        summary="Kunjungan industri ke sentra knalpot Pesayangan dan pabrik bulu mata palsu "
        "yang mengekspor ke seluruh dunia.",
        description="Melihat dua industri kebanggaan Purbalingga dari dekat: kerajinan knalpot "
        "di Desa Pesayangan dan pabrik rambut dan bulu mata palsu.\n\nTermasuk: bus, "
        "makan siang, dan sesi tanya jawab dengan pengusaha muda. Gratis untuk "
        "pelajar dan mahasiswa.",
        kecamatan="Kalimanah",
        venue="Titik kumpul: Alun-alun Purbalingga",
        coordinates=ALUN_ALUN,
        capacity=40,
        age=(15, 25),
        topics=("industri-kreatif", "kewirausahaan", "knalpot", "bulu-mata"),
        stops=[
            Stop(8, "07:30", "08:00", "Berkumpul dan presensi", "Alun-alun Purbalingga", True),
            Stop(
                8,
                "08:30",
                "10:30",
                "Sentra knalpot: dari pelat ke knalpot",
                "Desa Pesayangan, Kalimanah",
                True,
            ),
            Stop(
                8,
                "11:00",
                "13:00",
                "Pabrik bulu mata: proses dan pasar ekspor",
                "Kawasan industri, Purbalingga",
            ),
            Stop(8, "13:30", "14:00", "Kembali ke Alun-alun", "Alun-alun Purbalingga"),
        ],
    ),
    DemoProgram(
        owner="dinporapar@demo.youthhub.id",
        kind="tour",
        title="Purbasari Pancuran Mas: Belajar Konservasi Air",
        summary="Sehari belajar sumber mata air, konservasi, dan pengelolaan taman wisata.",
        description="Kunjungan ke taman wisata Purbasari Pancuran Mas: sumber mata air, "
        "kebun, dan pengelolaan sampah.\n\nTermasuk: tiket masuk, makan siang.",
        kecamatan="Padamara",
        venue="Titik kumpul: Alun-alun Purbalingga",
        coordinates=ALUN_ALUN,
        capacity=40,
        price_idr=60_000,
        topics=("wisata-edukatif", "lingkungan"),
        stops=[
            Stop(-20, "07:30", "08:00", "Berkumpul dan presensi", "Alun-alun Purbalingga", True),
            Stop(
                -20,
                "08:30",
                "12:00",
                "Sumber mata air dan konservasi",
                "Purbasari Pancuran Mas, Padamara",
                True,
            ),
            Stop(-20, "12:30", "13:00", "Kembali ke Alun-alun", "Alun-alun Purbalingga"),
        ],
        extra={"finished": True},
    ),
)


def _at(today: datetime, days: int, clock: str) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    day = (today + timedelta(days=days)).date()
    return datetime.combine(day, time(hours, minutes), tzinfo=display_timezone())


def _program_data(demo: DemoProgram, today: datetime) -> dict[str, Any]:
    sessions = [
        {
            "title": s.title,
            "starts_at": _at(today, s.day, s.start),
            "ends_at": _at(today, s.day, s.end),
            "location": s.location,
            "checkin": s.checkin,
            "day": None,
        }
        for s in demo.stops
    ]
    return {
        "kind": demo.kind,
        "title": demo.title,
        "summary": demo.summary,
        "description": demo.description,
        "topics": list(demo.topics),
        "venue": demo.venue,
        "kecamatan": demo.kecamatan,
        "latitude": demo.coordinates[0] if demo.coordinates else None,
        "longitude": demo.coordinates[1] if demo.coordinates else None,
        "capacity": demo.capacity,
        "waitlist_limit": demo.waitlist_limit,
        "price_idr": demo.price_idr,
        "age_min": demo.age[0],
        "age_max": demo.age[1],
        "sessions": sessions,
        "publish": demo.publish,
    }


async def _ensure_staff(email: str, role: str, name: str, password: str | None) -> CurrentUser:
    row = await StaffUser.select().where(StaffUser.email == email).first().run()
    if row is None:
        row, _ = await create_staff_user(email=email, role=role, name=name, password=password)
    return CurrentUser(id=row["id"], email=row["email"], name=row["name"], role=Role(row["role"]))


async def load_demo(if_empty: bool = False) -> list[tuple[str, str, str]] | None:
    """Load the demo staff and programs; returns one (email, role, password) per role, or None
    when `if_empty` and the database already holds programs."""
    if if_empty and await Program.exists().run():
        return None
    staff: dict[str, CurrentUser] = {}
    for email, role, name, password in DEMO_STAFF:
        staff[email] = await _ensure_staff(email, role, name, password)
    staff[COACH[0]] = await _ensure_staff(*COACH, None)
    today = datetime.now(display_timezone()).replace(hour=0, minute=0, second=0, microsecond=0)
    for demo in DEMO_PROGRAMS:
        if await Program.exists().where(Program.slug == slugify(demo.title)).run():
            continue
        created = await create_program(staff[demo.owner], _program_data(demo, today))
        if demo.extra.get("finished"):
            # Past programs are over: the status the office would have closed them with.
            await (
                Program.update({Program.status: "finished"})
                .where(Program.id == created["id"])
                .run()
            )
    return [(email, role, password) for email, role, _name, password in DEMO_STAFF]
