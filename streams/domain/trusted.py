"""Values the domain computed and checked itself, built without validating them again.

Validation belongs at the boundaries: an event or reference record is validated once
when it is decoded, a command once when it is read back from the table. Inside the
core, a posting rule builds its lines and commands from values that are already
valid (validated inputs, Decimal arithmetic rounded by ``round_money``), and the
invariant that matters (a command balances) is checked explicitly where it is built
(``streams.domain.commands.check_balanced``). Re-running pydantic's field
validators on every line of every command cost more than the rule itself (about
half of a time entry's posting time, measured), so ``trusted`` builds the model the
way ``BaseModel.model_construct`` does, for a complete set of fields.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["trusted"]

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def trusted(model: type[M], values: dict[str, Any]) -> M:
    """Build ``model`` from already-valid values, every field given, without validation.

    The result is what ``model.model_validate(values)`` returns for valid values
    (equal, same dump), at a fraction of the cost. Only for models without aliases,
    private attributes or extra fields (the domain's frozen records).

    Args:
        model: The pydantic model class.
        values: A value for every field of the model (taken over, not copied).

    Raises:
        TypeError: A field is missing or unknown (a programming error).

    """
    fields = model.__pydantic_fields__
    if values.keys() != fields.keys():
        missing, unknown = fields.keys() - values.keys(), values.keys() - fields.keys()
        raise TypeError(f"{model.__name__}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    built = model.__new__(model)
    _set(built, "__dict__", values)
    _set(built, "__pydantic_fields_set__", set(values))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built
