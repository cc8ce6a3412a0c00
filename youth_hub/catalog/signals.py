"""What other domains hear about programs, without catalog depending on them.

Messaging registers listeners here (re-plan reminders, tell registrants); catalog's services
call `emit_*` inside the transaction that made the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# listener(program_id, changes) where changes names what moved: {"times": bool, "place": bool}
ProgramChanged = Callable[[int, dict[str, Any]], Awaitable[None]]
ProgramCancelled = Callable[[int], Awaitable[None]]

CapacityRaised = Callable[[int], Awaitable[None]]

_changed: list[ProgramChanged] = []
_cancelled: list[ProgramCancelled] = []
_capacity_raised: list[CapacityRaised] = []


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


async def emit_capacity_raised(program_id: int) -> None:
    for listener in list(_capacity_raised):
        await listener(program_id)


async def emit_program_changed(program_id: int, changes: dict[str, Any]) -> None:
    for listener in list(_changed):
        await listener(program_id, changes)


async def emit_program_cancelled(program_id: int) -> None:
    for listener in list(_cancelled):
        await listener(program_id)
