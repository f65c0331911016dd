"""The "did you mean" hint every error message about an unknown name carries (one implementation)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """` (did you mean 'X'?)` for the closest choice (ignoring case), or `` when none is close."""
    by_fold: dict[str, str] = {}
    for choice in choices:
        by_fold.setdefault(choice.casefold(), choice)
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=1, cutoff=cutoff)
    return f" (did you mean {by_fold[close[0]]!r}?)" if close else ""
