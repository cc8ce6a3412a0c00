"""`youth-hub keys rotate`, run as operators run it: a separate process beside a running one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from youth_hub.tickets import public_keys, sign_ticket, verify_ticket
from youth_hub.tickets.keys import keyring

ROOT = Path(__file__).resolve().parents[2]


def rotate(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOUTH_HUB_")}
    env["YOUTH_HUB_DATA_DIR"] = str(data_dir)
    script = Path(sys.executable).with_name("youth-hub")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "youth_hub.cli"]
    return subprocess.run(
        [*command, "keys", "rotate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_rotation_adds_a_key_new_tickets_use_it_old_tickets_still_verify(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    before = sign_ticket(data_dir, 1, 2)
    old_kid = verify_ticket(data_dir, before).kid

    result = rotate(data_dir)
    assert result.returncode == 0, result.stderr
    match = re.search(r"\b([0-9a-f]{8})\b", result.stdout)
    assert match, result.stdout
    new_kid = match.group(1)
    assert new_kid != old_kid

    # this process (a running server) notices the new key without a restart
    after = sign_ticket(data_dir, 3, 2)
    assert verify_ticket(data_dir, after).kid == new_kid
    assert verify_ticket(data_dir, before).kid == old_kid
    assert verify_ticket(data_dir, before).ticket_id == 1
    listed = [k["kid"] for k in public_keys(data_dir)]
    assert listed == [old_kid, new_kid]
    assert all(len(k["public_key"]) == 43 for k in public_keys(data_dir))  # 32 raw bytes

    again = rotate(data_dir)
    assert again.returncode == 0, again.stderr
    third = keyring(data_dir).signing_key().kid
    assert third not in (old_kid, new_kid)
    assert len(public_keys(data_dir)) == 3
    assert verify_ticket(data_dir, before).kid == old_kid
    assert verify_ticket(data_dir, after).kid == new_kid


def test_rotation_on_a_fresh_data_dir_makes_the_first_key_then_the_second(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = rotate(data_dir)
    assert result.returncode == 0, result.stderr
    assert len(public_keys(data_dir)) == 2
    keys = sorted((data_dir / "ticket_keys").glob("*.pem"))
    assert len(keys) == 2
    assert all((path.stat().st_mode & 0o777) == 0o600 for path in keys)  # private keys private
