"""htmx and template plumbing shared by every domain; no business rules here."""

from youth_hub.web.errors import DomainError, FieldError, ValidationFailed
from youth_hub.web.htmx import is_fragment_request, page_or_fragment

__all__ = [
    "DomainError",
    "FieldError",
    "ValidationFailed",
    "is_fragment_request",
    "page_or_fragment",
]
