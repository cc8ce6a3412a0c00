"""The audit log: every read or export of personal data, every change of roles."""

from __future__ import annotations

from typing import Any

from youth_hub.accounts.identity import CurrentUser
from youth_hub.accounts.tables import AuditLog


async def record_audit(
    actor: CurrentUser | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str = "",
) -> None:
    await AuditLog.insert(
        AuditLog(
            actor=actor.id if actor else None,
            actor_label=actor.email if actor else "",
            action=action,
            target=target[:200],
            detail=detail or {},
            ip=ip[:64],
        )
    ).run()
