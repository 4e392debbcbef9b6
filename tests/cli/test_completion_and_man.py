"""Shell completions and man pages: generated from the command tree and current, shipped
in the wheel, rendering without warnings, and completing for real in bash (subcommands,
options, choices, job types, event names, and ids from the local database)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from conftest import CLI, cli_env

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_docs", ROOT / "scripts/generate_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_completions_man_pages_and_settings_reference_are_what_the_generator_makes() -> None:
    files = generator().generated()
    stale = [path for path, text in files.items() if (ROOT / path).read_text() != text]
    assert stale == [], f"run: python scripts/generate_docs.py ({stale})"
    shipped = {f"{d}/{p.name}" for d in ("completions", "man") for p in (ROOT / d).iterdir()}
    assert shipped == {path for path in files if path.startswith(("completions/", "man/"))}
    assert "`PJOBS_WORKER__CONCURRENCY`" in files["README.md"]  # the settings reference
    assert len([p for p in files if p.startswith("man/")]) == 28  # pjobs.1 and each command


def test_every_man_page_renders_without_warnings() -> None:
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed")
    for page in sorted((ROOT / "man").glob("*.1")):
        done = subprocess.run(
            [groff, "-man", "-ww", "-z", str(page)], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0 and done.stderr == "", (page.name, done.stderr)
        text = page.read_text()
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "ENVIRONMENT"):
            assert f".SH {section}\n" in text, (page.name, section)
        for section in ("FILES", "EXAMPLES", "SEE ALSO"):
            assert f".SH {section}\n" in text, (page.name, section)


@pytest.mark.slow
def test_a_built_wheel_installs_the_man_pages_and_completions(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("pjobs-*.whl")
    names = {
        n.split(".data/data/", 1)[1] for n in zipfile.ZipFile(wheel).namelist() if ".data/" in n
    }
    assert "share/man/man1/pjobs.1" in names and "share/man/man1/pjobs-jobs.1" in names
    assert {
        "share/bash-completion/completions/pjobs.bash",
        "share/zsh/site-functions/_pjobs",
        "share/fish/vendor_completions.d/pjobs.fish",
    } <= names


def complete(env: dict[str, str], line: str) -> list[str]:
    """What bash offers at the end of `line`, with the shipped script sourced."""
    script = f"""
source {ROOT / "completions/pjobs.bash"}
read -ra COMP_WORDS <<< {line!r}
[[ {line!r} == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_pjobs_completion pjobs
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        env={**env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_choices_and_ids(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)  # the default SQLite database in the data folder
    env.pop("PJOBS_DATABASE_URL", None)
    cli = CLI(env, tmp_path / "logs")
    made = cli("provision", "proj-tab", "--name", "Tab", "--owner", "o-1", "--json")
    assert made.returncode == 0, made.stderr
    assert complete(env, "pjobs jo") == ["jobs"]
    assert complete(env, "pjobs jobs list --st") == ["--state"]
    states = ["queued", "running", "succeeded", "failed", "cancelled"]
    assert complete(env, "pjobs jobs list --state ") == states
    assert complete(env, "pjobs deprovision proj-t") == ["proj-tab"]
    keys = complete(env, "pjobs rotate-key key_")
    assert len(keys) == 2 and all(k.startswith("key_") for k in keys)
    assert {"noop", "provision_project", "export_backup"} <= set(
        complete(env, "pjobs jobs enqueue ")
    )
    events = complete(env, "pjobs webhooks add proj-tab https://x.example -e project.s")
    assert events == ["project.suspended"]
    # a row made by hand, holding a terminal escape and a command substitution, is never
    # offered to the shell
    import sqlite3

    database = tmp_path / "xdg-data" / "pjobs" / "pjobs.db"
    with sqlite3.connect(database) as conn:
        for planted in ("proj-x\x1b[31m", "proj-$(touch pwned)"):
            conn.execute(
                "INSERT INTO projects (id, name, owner_id, region, plan, status, created_at,"
                " updated_at) SELECT ?, name, owner_id, region, plan, status, created_at,"
                " updated_at FROM projects WHERE id = 'proj-tab'",
                (planted,),
            )
    assert complete(env, "pjobs deprovision proj-") == ["proj-tab"]


@pytest.mark.parametrize(
    ("shell", "file", "load"),
    [
        ("zsh", "_pjobs", "autoload -U compinit && compinit -u && source {file}"),
        ("fish", "pjobs.fish", "source {file}"),
    ],
)
def test_zsh_and_fish_scripts_load(shell: str, file: str, load: str) -> None:
    found = shutil.which(shell)
    if found is None:
        pytest.skip(f"{shell} is not installed here")
    done = subprocess.run(
        [found, "-c", load.format(file=ROOT / "completions" / file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
