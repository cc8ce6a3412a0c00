"""What other domains hear about programs, without catalog depending on them.

Messaging registers listeners here (re-plan reminders, tell registrants); catalog's services
call `emit_*` inside the transaction that made the change. Check-in answers which sessions it
still needs (`sessions_in_use`), so catalog refuses to delete them without knowing why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

# listener(program_id, changes) where changes names what moved: {"times": bool, "place": bool}
ProgramChanged = Callable[[int, dict[str, Any]], Awaitable[None]]
ProgramCancelled = Callable[[int], Awaitable[None]]

CapacityRaised = Callable[[int], Awaitable[None]]

# listener(session_ids) -> those of them it still needs (check-ins point at them)
SessionsRemoving = Callable[[Collection[int]], Awaitable[Collection[int]]]

_changed: list[ProgramChanged] = []
_cancelled: list[ProgramCancelled] = []
_capacity_raised: list[CapacityRaised] = []
_sessions_removing: list[SessionsRemoving] = []


def on_program_changed(listener: ProgramChanged) -> ProgramChanged:
    if listener not in _changed:
        _changed.append(listener)
    return listener


def on_program_cancelled(listener: ProgramCancelled) -> ProgramCancelled:
    if listener not in _cancelled:
        _cancelled.append(listener)
    return listener


def on_capacity_raised(listener: CapacityRaised) -> CapacityRaised:
    """Registration fills the new seats from the waiting list."""
    if listener not in _capacity_raised:
        _capacity_raised.append(listener)
    return listener


def on_sessions_removing(listener: SessionsRemoving) -> SessionsRemoving:
    """Check-in keeps sessions and stops with attendance from being deleted."""
    if listener not in _sessions_removing:
        _sessions_removing.append(listener)
    return listener


async def sessions_in_use(session_ids: Collection[int]) -> set[int]:
    """Which of `session_ids` another domain still needs; asked inside the write transaction
    that would delete them, after catalog locked the rows."""
    wanted = set(session_ids)
    used: set[int] = set()
    if not wanted:
        return used
    for listener in list(_sessions_removing):
        used.update(int(i) for i in await listener(sorted(wanted)))
    return used & wanted


async def emit_capacity_raised(program_id: int) -> None:
    for listener in list(_capacity_raised):
        await listener(program_id)


async def emit_program_changed(program_id: int, changes: dict[str, Any]) -> None:
    for listener in list(_changed):
        await listener(program_id, changes)


async def emit_program_cancelled(program_id: int) -> None:
    for listener in list(_cancelled):
        await listener(program_id)
