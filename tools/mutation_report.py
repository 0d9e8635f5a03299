"""Killed share per module after ``mutmut run`` (``make mutation``), with the survivors.

Reads mutmut's result files under ``mutants/``. A module is ``path`` (every function in
it) or ``path:function`` (that function only, e.g. a provider's ``verify``). Mutants listed
in docs/TESTING.md as equivalent, or as told apart only on PostgreSQL (the run uses SQLite),
are counted apart, not as survivors, and left out of the killed share.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

EQUIVALENT = Path("docs/TESTING.md")


def mutant_prefix(spec: str) -> tuple[Path, str]:
    """``webhooks/twilio.py:verify`` -> (its result file, ``webhooks.twilio.x_verify__mutmut_``)."""
    path, _, function = spec.partition(":")
    module = path.removesuffix(".py").replace("/", ".")
    return Path(
        "mutants"
    ) / f"{path}.meta", f"{module}.x{'_' + function if function else '*'}__mutmut_"


EQUIVALENT_SECTION = "### Equivalent mutants"
POSTGRES_SECTION = "### Mutants only PostgreSQL tells apart"


def listed_names(section: str) -> set[str]:
    """Mutant names written in backquotes in one ``###`` section of docs/TESTING.md."""
    if not EQUIVALENT.exists():
        return set()
    text = EQUIVALENT.read_text("utf-8")
    start = text.find(section + "\n")
    if start < 0:
        return set()
    end = text.find("\n#", start + len(section))
    body = text[start : end if end >= 0 else len(text)]
    return set(re.findall(r"`([\w.]+__mutmut_\d+)`", body))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("modules", nargs="+", help="path.py or path.py:function")
    parser.add_argument("--goal", type=float, default=90.0, help="killed share per module, %%")
    parser.add_argument("--diff", action="store_true", help="show each survivor's change")
    args = parser.parse_args()
    equivalent = listed_names(EQUIVALENT_SECTION)
    postgres_only = listed_names(POSTGRES_SECTION)
    below = []
    print(
        f"{'module':<40} {'mutants':>7} {'killed':>6} {'equiv':>5} {'pg':>3} {'left':>5} "
        f"{'killed %':>8}"
    )
    survivors: dict[str, list[str]] = {}
    for spec in args.modules:
        meta, prefix = mutant_prefix(spec)
        results = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        mine = {k: v for k, v in results.items() if fnmatch.fnmatch(k, prefix + "*")}
        killed = [k for k, v in mine.items() if status_by_exit_code[v] in ("killed", "timeout")]
        same = [k for k in mine if k in equivalent and k not in killed]
        pg = [k for k in mine if k in postgres_only and k not in killed]
        left = sorted(set(mine) - set(killed) - set(same) - set(pg), key=_natural)
        judged = len(mine) - len(same) - len(pg)
        share = 100.0 * len(killed) / judged if judged else 0.0
        print(
            f"{spec:<40} {len(mine):>7} {len(killed):>6} {len(same):>5} {len(pg):>3} "
            f"{len(left):>5} {share:>7.1f}%"
        )
        survivors[spec] = [f"{k} ({status_by_exit_code[mine[k]]})" for k in left]
        if not mine or share < args.goal:
            below.append(spec)
    for spec, names in survivors.items():
        if names:
            print(f"\n{spec}: not killed")
            for name in names:
                print("  " + name)
                if args.diff:
                    diff = get_diff_for_mutant(name.split(" ")[0])
                    changed = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
                    print("\n".join("      " + line for line in changed))
    if below:
        print(f"\nbelow {args.goal:.0f}% killed: {', '.join(below)}")
    return 1 if below else 0


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("_")
    return base, int(number) if number.isdigit() else 0


if __name__ == "__main__":
    sys.exit(main())
