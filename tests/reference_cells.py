"""The wide frame's cell of one stored answer, computed plainly (one cell at a time): the
reference that :func:`surveys.responses.responses_frame` is checked against."""

from __future__ import annotations

from typing import Any

import numpy as np


def reference_cell(question: Any, option: str | None, answers: dict) -> Any:
    """The cell of column ``(question, option)`` for a response's stored ``answers``."""
    value = answers.get(option if question.type == "matrix" else question.id)
    if question.type == "multi_choice":
        return np.nan if value is None else float(option in value)
    if question.type == "ranking":
        return float(value.index(option) + 1) if value and option in value else np.nan
    if question.type in ("likert", "matrix", "rating", "number"):
        return np.nan if value is None else float(value)
    return value
