"""Staff roles, from least to most privileged."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SCANNER = "scanner"
    ORGANISER = "organiser"
    DINPORAPAR = "dinporapar"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.SCANNER: 0, Role.ORGANISER: 1, Role.DINPORAPAR: 2, Role.ADMIN: 3}

# Who may see every program (not only their own): the tourism office and admins.
OFFICE_ROLES = frozenset({Role.DINPORAPAR, Role.ADMIN})
