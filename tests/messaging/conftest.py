"""Messaging fixtures: a real SMTP server on loopback and settings that point at it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.messaging.support import MailServer, mail_server
from youth_hub.messaging import configure
from youth_hub.settings import Settings


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, smtp: MailServer) -> Settings:
    configured = dataclasses.replace(
        settings, smtp_url=smtp.url, mail_from="Youth Hub Purbalingga <noreply@youthhub.test>"
    )
    configure(configured)  # what create_app does: the signal listeners plan with these
    return configured
