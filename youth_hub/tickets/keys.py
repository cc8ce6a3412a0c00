"""Ticket-signing keys: Ed25519 pairs in `<data dir>/ticket_keys/`, newest signs, all verify.

A key id (kid) is 8 hex characters (4 bytes, so it fits the QR payload raw). Keys are
created on first use and by `youth-hub keys rotate`; older keys stay listed and valid.
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_DIR_NAME = "ticket_keys"


@dataclass(frozen=True)
class TicketKey:
    kid: str
    created: float
    private_key: Ed25519PrivateKey

    @functools.cached_property
    def public_key(self) -> Ed25519PublicKey:  # derived once: every scan verifies with it
        return self.private_key.public_key()

    def public_key_b64(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / KEY_DIR_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_new_key(data_dir: Path) -> str:
    kid = secrets.token_hex(4)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    folder = _key_dir(data_dir)
    # The file name orders keys by creation; the newest signs.
    name = f"{time.time_ns():020d}-{kid}.pem"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    os.replace(tmp, folder / name)
    return kid


def _read_keys(data_dir: Path) -> list[TicketKey]:
    keys = []
    for path in sorted(_key_dir(data_dir).glob("*.pem")):
        stamp, _, kid = path.stem.partition("-")
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(private, Ed25519PrivateKey):
            keys.append(TicketKey(kid=kid, created=int(stamp) / 1e9, private_key=private))
    return keys


class KeyRing:
    """The keys of one data dir. Re-read when the key folder changes (its mtime: one stat per
    use), so a `youth-hub keys rotate` run beside running workers takes effect at once, and
    when an unknown kid shows up."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._keys: list[TicketKey] = []
        self._stamp: int | None = None
        self._forced_at = 0.0

    def _folder_stamp(self) -> int:
        try:
            return (self.data_dir / KEY_DIR_NAME).stat().st_mtime_ns
        except FileNotFoundError:
            return _key_dir(self.data_dir).stat().st_mtime_ns

    def _load(self) -> None:
        # The stamp is taken before reading: a key added meanwhile triggers another read.
        stamp = self._folder_stamp()
        keys = _read_keys(self.data_dir)
        if not keys:
            lock_path = _key_dir(self.data_dir) / ".create.lock"
            import fcntl

            with lock_path.open("w") as handle:  # two workers starting at once make one key
                fcntl.flock(handle, fcntl.LOCK_EX)
                keys = _read_keys(self.data_dir)
                if not keys:
                    _write_new_key(self.data_dir)
                    keys = _read_keys(self.data_dir)
            stamp = self._folder_stamp()
        self._keys = keys
        self._stamp = stamp

    def all(self) -> list[TicketKey]:
        with self._lock:
            if not self._keys or self._folder_stamp() != self._stamp:
                self._load()
            return list(self._keys)

    def signing_key(self) -> TicketKey:
        return self.all()[-1]

    def find(self, kid: str) -> TicketKey | None:
        for key in self.all():
            if key.kid == kid:
                return key
        # A coarse-mtime file system may hide a rotation made within the same tick: re-read,
        # but at most once a second, so a stream of forged kids cannot keep the disk busy.
        with self._lock:
            if time.monotonic() - self._forced_at < 1.0:
                return None
            self._forced_at = time.monotonic()
            self._load()
            return next((k for k in self._keys if k.kid == kid), None)

    def refresh(self) -> None:
        with self._lock:
            self._load()


_rings: dict[Path, KeyRing] = {}


def keyring(data_dir: Path) -> KeyRing:
    ring = _rings.get(data_dir)  # as given first: resolving costs a stat per path part
    if ring is None:
        path = Path(data_dir).resolve()
        ring = _rings.get(path) or KeyRing(path)
        _rings[path] = _rings[data_dir] = ring
    return ring


def rotate_keys(data_dir: Path) -> str:
    """Add a new signing key; the older ones stay valid. Returns the new kid."""
    keyring(data_dir).all()  # make sure the first key exists before adding the second
    kid = _write_new_key(Path(data_dir))
    keyring(data_dir).refresh()
    return kid


def public_keys(data_dir: Path) -> list[dict[str, str]]:
    """As the check-in bundle lists them: [{"kid", "public_key": base64url raw 32 bytes}]."""
    return [{"kid": k.kid, "public_key": k.public_key_b64()} for k in keyring(data_dir).all()]
