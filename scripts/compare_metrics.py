"""Compare the measurements of two results folders, number by number, ignoring timings.

Usage: python scripts/compare_metrics.py OLD_ROOT NEW_ROOT [SECTION ...]

Reads <root>/<section>/metrics.json of both roots (Python's NaN or rnnlab's strict "NaN"
strings alike) and prints every leaf that differs, was removed or was added. Keys that hold
timings (a word of the key is seconds, time, timings, wall, ...) are skipped. For the changed
numbers it also prints the median and largest relative change. Exits 1 when any number differs.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

TIMING_WORDS = {"second", "seconds", "time", "times", "timing", "timings", "wall", "elapsed",
                "speed", "throughput", "ms"}


def is_timing(key: str) -> bool:
    """A key naming a timing: one of its words (split at _ and non-letters) is a timing word."""
    return any(word in TIMING_WORDS for word in re.split(r"[^a-z]+", key.lower()))
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def load(path: Path):
    data = json.loads(path.read_text(encoding="utf-8"))

    def decode(v):
        if isinstance(v, str):
            return NONFINITE.get(v, v)
        if isinstance(v, dict):
            return {k: decode(x) for k, x in v.items()}
        if isinstance(v, list):
            return [decode(x) for x in v]
        return v

    return decode(data)


def leaves(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            if is_timing(str(k)):
                continue
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def relative_changes(old: dict, new: dict, keys: list[str]) -> dict[str, float]:
    """|new - old| / max(|old|, |new|) for the changed keys whose values are both finite numbers."""
    out = {}
    for k in keys:
        a, b = old[k], new[k]
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
                and math.isfinite(a) and math.isfinite(b):
            out[k] = abs(b - a) / max(abs(a), abs(b))
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python scripts/compare_metrics.py OLD_RESULTS NEW_RESULTS [SECTION ...]", file=sys.stderr)
        return 2
    old_root, new_root = Path(argv[0]), Path(argv[1])
    for root in (old_root, new_root):
        if not root.is_dir():
            print(f"compare_metrics: expected a results folder, found no folder at {root}", file=sys.stderr)
            return 2
    sections = argv[2:] or sorted(p.name for p in old_root.iterdir() if (p / "metrics.json").is_file())
    differing = 0
    for name in sections:
        old = dict(leaves(load(old_root / name / "metrics.json")))
        new = dict(leaves(load(new_root / name / "metrics.json")))
        changed = [k for k in old if k in new and not same(old[k], new[k])]
        removed = [k for k in old if k not in new]
        added = [k for k in new if k not in old]
        print(f"{name}: {len(old)} values compared; {len(changed)} changed, {len(removed)} removed, {len(added)} added")
        rel = relative_changes(old, new, changed)
        if rel:
            values = sorted(rel.values())
            worst = max(rel, key=rel.get)
            print(f"  relative change of the {len(rel)} changed numbers: median {values[len(values) // 2]:.2g}, "
                  f"largest {rel[worst]:.2g} ({worst})")
        for k in changed[:40]:
            print(f"  changed {k}: {old[k]!r} -> {new[k]!r}")
        for k in removed[:20]:
            print(f"  removed {k}")
        for k in added[:20]:
            print(f"  added {k}")
        differing += len(changed)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
