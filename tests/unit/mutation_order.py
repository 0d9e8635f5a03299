"""pytest plugin for ``make mutation`` only (``-p tests.unit.mutation_order`` in
``[tool.mutmut]``): a mutant's tests run fastest first.

mutmut runs a mutant against the tests that reach the mutated function and stops at the
first failure, but hands them to pytest in no particular order, so a mutant that only a
quick unit test kills often waits for minutes of API tests first. Here they are sorted by
the durations mutmut measured in its stats run (``mutmut-stats.json`` in its working
directory, ``mutants/``). Only the order changes: the same tests run, and a surviving mutant
still runs every one of them. Without that file (the stats run itself) nothing changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

STATS = Path("mutmut-stats.json")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not STATS.exists():
        return
    durations: dict[str, float] = json.loads(STATS.read_text("utf-8")).get("duration_by_test", {})
    # stable: tests of equal (or unknown) duration keep pytest's order
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
