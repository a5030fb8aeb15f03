"""Pydantic glue: workflow definitions inside a plugin's settings model, with errors at the right line.

``condition_type(predicates=..., fields=...)`` is an annotated type for a condition field of a settings
model. A bad condition is reported by ``config check`` with the file, the line of the very key that is
wrong and its path (``plugins.routing.routes.discount.when.all[1].gt: needs ...``): the error carries its
location below the field in ``ctx["loc"]``, which the config loader adds to the field's own location.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from suitecrm_ext.workflow.conditions import Condition, ConditionError, Predicates, parse_condition


def located_error(path: tuple, message: str) -> PydanticCustomError:
    """A pydantic error whose message is ``message`` and whose location goes ``path`` deeper."""
    return PydanticCustomError("workflow", "{message}", {"message": message, "loc": tuple(path)})


def condition_type(*, predicates: Predicates | None = None, fields: Any = None) -> Any:
    """An annotated :class:`~suitecrm_ext.workflow.conditions.Condition` type for settings models."""

    def parse(value: Any) -> Condition:
        if isinstance(value, Condition):
            return value
        try:
            return parse_condition(value, predicates=predicates, fields=fields)
        except ConditionError as exc:
            path, message = exc.problems[0]
            more = len(exc.problems) - 1
            raise located_error(path, message + (f" (and {more} more problem(s))" if more else "")) from None

    return Annotated[Condition, PlainValidator(parse), PlainSerializer(lambda c: c.source, return_type=Any)]


#: A condition without plugin predicates.
ConditionField = condition_type()

__all__ = ["ConditionField", "condition_type", "located_error"]
