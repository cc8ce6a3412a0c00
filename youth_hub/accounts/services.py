"""Account rules: creating staff, API tokens. Plain async functions, no HTTP."""

from __future__ import annotations

import re
from typing import Any

from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from youth_hub.accounts.passwords import generate_password, hash_password, new_api_token
from youth_hub.accounts.roles import Role
from youth_hub.accounts.tables import ApiToken, StaffUser
from youth_hub.i18n import gettext
from youth_hub.web.errors import DomainError, FieldError, ValidationFailed

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 10


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_staff_user(
    *, email: str, role: str, name: str = "", password: str | None = None
) -> tuple[dict[str, Any], str]:
    """Create a staff user; returns (row, password), generating the password when none given."""
    email = normalise_email(email)
    errors = []
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors.append(FieldError("email", gettext("Enter a valid email address.")))
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", gettext("Choose one of the roles.")))
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors.append(
            FieldError("password", gettext("The password needs at least 10 characters."))
        )
    if len(name) > 120:
        errors.append(FieldError("name", gettext("At most 120 characters.")))
    if errors:
        raise ValidationFailed(errors, message=errors[0].message)
    if await StaffUser.exists().where(StaffUser.email == email).run():
        raise DomainError(
            code="email_taken",
            message=gettext("A staff account with this email already exists."),
            status_code=HTTP_409_CONFLICT,
        )
    password = password or generate_password()
    row = StaffUser(email=email, role=role, name=name.strip(), password_hash=hash_password(password))
    await row.save().run()
    return row.to_dict(), password


async def create_api_token(*, email: str, label: str = "") -> str:
    """A new API token for an active staff user; only its hash is stored."""
    user = (
        await StaffUser.select(StaffUser.id)
        .where((StaffUser.email == normalise_email(email)) & StaffUser.active.eq(True))
        .first()
        .run()
    )
    if not user:
        raise DomainError(
            code="no_such_user",
            message=gettext("No active staff account has this email."),
            status_code=HTTP_404_NOT_FOUND,
        )
    token, digest = new_api_token()
    await ApiToken(user=user["id"], token_hash=digest, label=label[:100]).save().run()
    return token
