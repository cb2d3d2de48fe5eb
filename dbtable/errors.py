"""Domain errors. They stay out of Kopf: only the handlers turn them into status and retries."""
from __future__ import annotations

from dataclasses import dataclass

from dbtable.names import describe_type


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one field of a resource, e.g. ``spec.columns[2]``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidSpec(ValueError):
    """The resource cannot be turned into a table; retrying is useless until the spec changes."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def column_list(value: object, field: str, required: str, what: str, limit: int,
                errors: list[FieldError]) -> list[object] | None:
    """The shape every list of column names shares (an index's, a foreign key's): present, a
    list, 1 to ``limit`` entries. None, with the error recorded, when it is not."""
    if value is None:
        errors.append(FieldError(field, f"is required: {required}"))
        return None
    if not isinstance(value, list):
        errors.append(FieldError(field, f"must be a list of column names, got "
                                        f"{describe_type(value)}"))
        return None
    if not value or len(value) > limit:
        errors.append(FieldError(field, f"has {len(value)} columns; {what} has 1 to {limit}"))
        return None
    return value
