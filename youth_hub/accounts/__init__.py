"""Staff users, roles, sessions, API tokens, guards and the audit log.

Other domains use only what is exported here.
"""

from youth_hub.accounts.audit import record_audit
from youth_hub.accounts.identity import CurrentUser, optional_user, requires
from youth_hub.accounts.roles import OFFICE_ROLES, Role
from youth_hub.accounts.sessions import renew_session

__all__ = [
    "OFFICE_ROLES",
    "CurrentUser",
    "Role",
    "optional_user",
    "record_audit",
    "renew_session",
    "requires",
]
