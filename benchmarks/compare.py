"""The working tree against earlier commits, figure by figure, in alternating turns.

    .venv/bin/python benchmarks/compare.py REF [REF…] [--turns 3] [--jobs 50000]
        [--deliveries 3000] [--only queue,cli,latency,webhooks,startup]

Each REF is checked out in a worktree of its own (under ~/.cache/pjobs-compare, kept for
the next run) with its own virtualenv (its `constraints.txt`, `pip install -e .`); the
working tree gets one made the same way (`working_tree_python`). Each
turn takes every checkout's figures (`figures.py`, run by that checkout's interpreter
with that checkout's benchmark scripts), the working tree last, then the next turn the
same: noise on a busy machine moves all of them alike. Prints each figure per checkout
(median of the turns) and the working tree's ratio to each REF with its spread (the
lowest and highest ratio of one turn to the same turn). The anchors (a bare psycopg and
a bare sqlite3 loop) are taken once a turn. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pjobs-compare"


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def checkout(ref: str) -> tuple[str, Path]:
    """The commit REF names, checked out with a virtualenv of its own: (sha, python)."""
    sha = sh("git", "rev-parse", "--verify", f"{ref}^{{commit}}", cwd=ROOT).strip()
    tree = CACHE / sha[:12]
    python = tree / ".venv" / "bin" / "python"
    if not python.exists():
        if not tree.exists():
            sh("git", "worktree", "add", "--detach", str(tree), sha, cwd=ROOT)
        sh(sys.executable, "-m", "venv", str(tree / ".venv"))
        constraints = tree / "constraints.txt"
        pin = ["-c", str(constraints)] if constraints.exists() else []
        print(f"installing {ref} ({sha[:12]}) …", file=sys.stderr)
        sh(str(tree / ".venv/bin/pip"), "install", "-q", *pin, "-e", str(tree))
        sh(str(python), "-m", "compileall", "-q", str(tree / "src"))
    return sha, python


def working_tree_python() -> Path:
    """The working tree's interpreter: a virtualenv of its own made as each REF's is (its
    constraints, `pip install -e .`, no extras), kept under the cache for this checkout and
    made again when constraints.txt changes. Not the development virtualenv: its test
    extras are more distributions for every entry-point lookup to read, which alone moved
    start-up figures by 5-10 % and `serve --processes 2` by 15 %."""
    import hashlib

    venv = CACHE / f"tree-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}" / ".venv"
    constraints = ROOT / "constraints.txt"
    made_with = hashlib.sha256(constraints.read_bytes()).hexdigest()
    marker = venv / "constraints.sha256"
    python = venv / "bin" / "python"
    if not python.exists() or not marker.exists() or marker.read_text() != made_with:
        print("installing the working tree …", file=sys.stderr)
        sh(sys.executable, "-m", "venv", "--clear", str(venv))
        sh(str(venv / "bin/pip"), "install", "-q", "-c", str(constraints), "-e", str(ROOT))
        marker.write_text(made_with)
    return python


def take(python: Path, tree: Path, options: argparse.Namespace, only: str) -> dict[str, float]:
    done = subprocess.run(
        [
            str(python), str(HERE / "figures.py"), "--bench-dir", str(tree / "benchmarks"),
            "--jobs", str(options.jobs), "--deliveries", str(options.deliveries),
            "--only", only,
        ],
        cwd=tree, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("refs", nargs="+")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--only", default="queue,cli,latency,webhooks,startup")
    options = parser.parse_args()
    checkouts = {ref: checkout(ref) for ref in options.refs}
    names = [*options.refs, "working tree"]
    trees = {ref: CACHE / sha[:12] for ref, (sha, _) in checkouts.items()}
    trees["working tree"] = ROOT
    pythons = {ref: python for ref, (_, python) in checkouts.items()}
    pythons["working tree"] = working_tree_python()
    # compiled as the checkouts are: start-up is measured alike where bytecode is not
    # written as modules are imported (PYTHONDONTWRITEBYTECODE)
    sh(str(pythons["working tree"]), "-m", "compileall", "-q", str(ROOT / "src"))
    turns: list[dict[str, dict[str, float]]] = []
    anchors: list[dict[str, float]] = []
    for turn in range(options.turns):
        taken = {}
        for name in names:
            print(f"turn {turn + 1}/{options.turns}: {name} …", file=sys.stderr)
            taken[name] = take(pythons[name], trees[name], options, options.only)
        anchors.append(take(pythons["working tree"], ROOT, options, "bare"))
        turns.append(taken)
    report(names, turns, anchors)


def shown(value: float) -> str:
    """A figure as printed: two decimals below 10 (a ratio, a latency), else one."""
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def report(
    names: list[str], turns: list[dict[str, dict[str, float]]], anchors: list[dict[str, float]]
) -> None:
    figures = sorted({key for turn in turns for each in turn.values() for key in each})
    width = max(12, *(len(n) for n in names))
    print(f"{'figure':<30}" + "".join(f"{n[:width]:>{width + 2}}" for n in names), end="")
    print("".join(f"   tree/{n[:10]} (spread)" for n in names[:-1]))
    for figure in figures:
        values = {n: [t[n].get(figure) for t in turns] for n in names}
        if any(isinstance(v, str) for vs in values.values() for v in vs):
            for name, vs in values.items():
                for v in vs:
                    if isinstance(v, str):
                        print(f"{figure} ({name}): {v}")
            continue
        line = f"{figure:<30}"
        for name in names:
            taken = [v for v in values[name] if v is not None]
            line += (
                f"{shown(statistics.median(taken)):>{width + 2}}"
                if taken
                else f"{'-':>{width + 2}}"
            )
        for name in names[:-1]:
            pairs = [
                (tree, ref)
                for tree, ref in zip(values["working tree"], values[name], strict=True)
                if tree is not None and ref
            ]
            if not pairs:
                line += f"{'-':>26}"
                continue
            ratios = [tree / ref for tree, ref in pairs]
            line += f"   {statistics.median(ratios):5.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(line)
    for key in sorted({k for a in anchors for k in a}):
        taken = [a[key] for a in anchors if isinstance(a.get(key), float)]
        if taken:
            print(f"anchor {key:<23}{statistics.median(taken):>{width + 2},.1f}")
    print(
        "\nRates are a second (higher is better); *_ms and latency are milliseconds (lower is "
        "better); ratios are the working tree's over each REF's, turn by turn."
    )


if __name__ == "__main__":
    main()
