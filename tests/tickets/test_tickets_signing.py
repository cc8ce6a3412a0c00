"""The signed QR text: round trip, and every kind of damage refused with InvalidTicket only."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from youth_hub.tickets import InvalidTicket, public_keys, sign_ticket, verify_ticket
from youth_hub.tickets.keys import keyring
from youth_hub.tickets.signing import MAX_QR_TEXT

# the data_dir fixture is the same for every example on purpose (one key ring)
FIXTURES_OK = [HealthCheck.function_scoped_fixture]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def ticket(data_dir: Path) -> str:
    return sign_ticket(data_dir, 4242, 17)


def test_round_trip_names_key_ticket_and_program(data_dir: Path) -> None:
    for ticket_id, program_id in [(1, 1), (4242, 17), (2**31, 2**20), (2**63 - 1, 2**63 - 1)]:
        text = sign_ticket(data_dir, ticket_id, program_id)
        claims = verify_ticket(data_dir, text)
        assert (claims.ticket_id, claims.program_id) == (ticket_id, program_id)
        assert claims.kid == keyring(data_dir).signing_key().kid
        assert text.startswith("YH1.") and text.count(".") == 2
        assert len(text) <= 140


def test_signing_is_deterministic(data_dir: Path) -> None:
    # the QR images are cached per text: the same ticket must give the same text
    assert sign_ticket(data_dir, 5, 6) == sign_ticket(data_dir, 5, 6)


def test_every_flipped_bit_of_payload_and_signature_is_refused(data_dir: Path, ticket: str) -> None:
    prefix, payload, signature = ticket.split(".")
    for part_index, part in ((1, payload), (2, signature)):
        raw = unb64(part)
        for position in range(len(raw)):
            for bit in (0x01, 0x80):
                damaged = bytearray(raw)
                damaged[position] ^= bit
                parts = [prefix, payload, signature]
                parts[part_index] = b64(bytes(damaged))
                with pytest.raises(InvalidTicket):
                    verify_ticket(data_dir, ".".join(parts))


def test_every_changed_character_is_refused(data_dir: Path, ticket: str) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position, char in enumerate(ticket):
        if char == ".":
            continue
        other = alphabet[(alphabet.find(char) + 1) % len(alphabet)] if char in alphabet else "A"
        damaged = ticket[:position] + other + ticket[position + 1 :]
        with pytest.raises(InvalidTicket):
            verify_ticket(data_dir, damaged)


def test_every_truncation_is_refused(data_dir: Path, ticket: str) -> None:
    for end in range(len(ticket)):
        with pytest.raises(InvalidTicket):
            verify_ticket(data_dir, ticket[:end])


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "YH2" + t[3:],
        lambda t: "yh1" + t[3:],
        lambda t: "X" + t,
        lambda t: t + ".",
        lambda t: t + "A",
        lambda t: t.replace(".", "..", 1),
        lambda t: t.replace(".", ":"),
        lambda t: t + "A" * MAX_QR_TEXT,
        lambda t: t * 2,
        lambda t: t[:20] + "🎟️" + t[21:],
        lambda t: t[:20] + "ꦱ" + t[21:],  # Javanese script
        lambda t: t[:20] + "\x00" + t[21:],
        lambda t: t[:20] + "\ud800" + t[21:],
        lambda t: t.replace("-", "+").replace("_", "/") + "==",  # standard base64, padded
        lambda t: "",
        lambda t: "YH1..",
        lambda t: "YH1",
        lambda t: "<script>alert(1)</script>",
        lambda t: '=HYPERLINK("http://evil")',
    ],
)
def test_malformed_texts_are_refused(data_dir: Path, ticket: str, make) -> None:  # type: ignore[no-untyped-def]
    damaged = make(ticket)
    assert damaged != ticket
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, damaged)


def test_other_servers_key_is_refused(tmp_path: Path, data_dir: Path) -> None:
    foreign = sign_ticket(tmp_path / "elsewhere", 1, 1)
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, foreign)


def test_our_kid_signed_by_another_key_is_refused(data_dir: Path, ticket: str) -> None:
    prefix, payload, _ = ticket.split(".")
    forged = Ed25519PrivateKey.generate().sign(f"{prefix}.{payload}".encode())
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, f"{prefix}.{payload}.{b64(forged)}")


def test_payload_changed_to_another_ticket_is_refused(data_dir: Path, ticket: str) -> None:
    other = sign_ticket(data_dir, 4243, 17)
    _, payload, _ = other.split(".")
    prefix, _, signature = ticket.split(".")
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, f"{prefix}.{payload}.{signature}")


def test_surrounding_whitespace_from_a_scanner_is_tolerated(data_dir: Path, ticket: str) -> None:
    assert verify_ticket(data_dir, f"  {ticket}\n").ticket_id == 4242


def test_public_key_alone_verifies(data_dir: Path, ticket: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    prefix, payload, signature = ticket.split(".")
    kid = unb64(payload)[:4].hex()
    listed = {k["kid"]: k["public_key"] for k in public_keys(data_dir)}
    key = Ed25519PublicKey.from_public_bytes(unb64(listed[kid]))
    key.verify(unb64(signature), f"{prefix}.{payload}".encode("ascii"))  # raises if wrong


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES_OK)
@given(text=st.text(max_size=400))
def test_any_text_is_refused_with_invalid_ticket_only(data_dir: Path, text: str) -> None:
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, text)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES_OK)
@given(
    payload=st.binary(max_size=40),
    signature=st.binary(max_size=80),
    prefix=st.sampled_from(["YH1", "YH0", "yh1", ""]),
)
def test_any_structured_forgery_is_refused(
    data_dir: Path, payload: bytes, signature: bytes, prefix: str
) -> None:
    # well-formed shape, arbitrary bytes: reaches key lookup, varint parsing and verification
    keyring(data_dir).all()
    kid = bytes.fromhex(keyring(data_dir).signing_key().kid)
    for body in (payload, kid + payload):
        with pytest.raises(InvalidTicket):
            verify_ticket(data_dir, f"{prefix}.{b64(body)}.{b64(signature)}")


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURES_OK)
@given(position=st.integers(min_value=0, max_value=10_000), replacement=st.characters())
def test_any_single_character_change_is_refused(
    data_dir: Path, ticket: str, position: int, replacement: str
) -> None:
    position %= len(ticket)
    damaged = ticket[:position] + replacement + ticket[position + 1 :]
    if damaged.strip() == ticket:
        return  # replacing nothing, or only the tolerated surrounding whitespace
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, damaged)


def test_remembered_answers_never_outlive_the_key_or_cover_a_changed_text(
    data_dir: Path,
) -> None:
    """Signing and verifying are remembered per key (a ticket scanned at every stop): a
    remembered success must not cover a bit-flipped copy, nor a key taken out of the ring."""
    text = sign_ticket(data_dir, 77, 5)
    assert sign_ticket(data_dir, 77, 5) == text  # deterministic, from memory the 2nd time
    assert verify_ticket(data_dir, text).ticket_id == 77
    assert verify_ticket(data_dir, text).ticket_id == 77  # remembered
    prefix, payload, signature = text.split(".")
    flipped = bytearray(unb64(signature))
    flipped[10] ^= 0x01
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, f"{prefix}.{payload}.{b64(bytes(flipped))}")
    # The key leaves the ring (its file removed, the ring re-read): the remembered success
    # for its tickets no longer counts.
    for pem in (data_dir / "ticket_keys").glob("*.pem"):
        pem.unlink()
    keyring(data_dir).refresh()  # makes a fresh key, as a first start would
    with pytest.raises(InvalidTicket):
        verify_ticket(data_dir, text)
    assert verify_ticket(data_dir, sign_ticket(data_dir, 77, 5)).ticket_id == 77  # new key
