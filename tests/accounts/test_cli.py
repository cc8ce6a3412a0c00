"""`youth-hub user add` and `youth-hub token add`, run as a subprocess on the test's database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.accounts.helpers import sign_in
from tests.factories import make_staff
from tests.support.live import ROOT, server_env
from youth_hub.accounts.tables import StaffUser
from youth_hub.settings import Settings

CLI = Path(sys.executable).parent / "youth-hub"


async def youth_hub(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = server_env(settings.database_url, settings.data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return await asyncio.to_thread(
        subprocess.run,
        [str(CLI), *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


async def test_user_add_takes_the_password_from_stdin(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    result = await youth_hub(
        settings,
        "user",
        "add",
        "--email",
        "Rina@Example.test",
        "--role",
        "organiser",
        "--name",
        "Rina",
        stdin="a long enough password\n",
    )
    assert result.returncode == 0, result.stderr
    assert "rina@example.test" in result.stdout.lower()
    assert "Password" not in result.stdout  # nothing generated, nothing printed
    row = await StaffUser.select().where(StaffUser.email == "rina@example.test").first().run()
    assert row and row["role"] == "organiser" and row["name"] == "Rina"
    response = await sign_in(client, "rina@example.test", "a long enough password")
    assert response.headers["location"] == "/manage"


async def test_user_add_generates_and_prints_a_password(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    result = await youth_hub(
        settings, "user", "add", "--email", "joko@example.test", "--role", "scanner"
    )
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.startswith("Password: ")]
    password = line.removeprefix("Password: ").strip()
    assert len(password) >= 12
    response = await sign_in(client, "joko@example.test", password)
    assert response.headers["location"] == "/scan"


async def test_user_add_refuses_a_duplicate_email(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    existing = await make_staff(role="organiser")
    result = await youth_hub(
        settings, "user", "add", "--email", existing["email"], "--role", "admin"
    )
    assert result.returncode != 0
    assert one_sentence(result.stderr).startswith("youth-hub: ")
    assert "sudah ada" in result.stderr
    row = await StaffUser.select().where(StaffUser.email == existing["email"]).first().run()
    assert row and row["role"] == "organiser"


async def test_user_add_refuses_a_short_password(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    result = await youth_hub(
        settings, "user", "add", "--email", "short@example.test", "--role", "admin", stdin="short\n"
    )
    assert result.returncode != 0
    assert "10" in one_sentence(result.stderr)
    assert await StaffUser.count().where(StaffUser.email == "short@example.test").run() == 0


async def test_token_add_prints_a_token_that_authenticates_the_api(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    staff = await make_staff(role="dinporapar", name="Wulan")
    result = await youth_hub(settings, "token", "add", "--email", staff["email"])
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("yh_") and "\n" not in token
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"email": staff["email"], "name": "Wulan", "role": "dinporapar"}


async def test_token_add_for_an_unknown_email_fails_in_one_sentence(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    result = await youth_hub(settings, "token", "add", "--email", "nobody@example.test")
    assert result.returncode != 0
    assert "Tidak ada akun staf aktif" in one_sentence(result.stderr)
    assert result.stdout.strip() == ""
