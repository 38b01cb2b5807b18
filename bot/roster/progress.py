"""A progress bar for long imports, on a terminal only (tqdm, to stderr); silent otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
BAR_FROM_ROWS = 2000  # smaller files are done before a bar would be worth reading


class Progress:
    """Wraps the rows being written; shows a bar when stderr is a terminal and the file is long."""

    def __init__(self, label: str, *, enabled: bool | None = None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def rows(self, items: list[T]) -> Iterator[T] | list[T]:
        if not self.enabled or len(items) < BAR_FROM_ROWS:
            return items
        from tqdm import tqdm  # only when a bar is shown

        bar: Iterable[T] = tqdm(items, desc=self.label, unit="行", file=sys.stderr, leave=False)
        return iter(bar)
