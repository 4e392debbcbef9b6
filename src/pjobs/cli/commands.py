"""The command tree as words: every command's name and where it is built, the global
options, and which command an argument list runs. Light enough to be read before anything
else is imported (the early catch of stop signals asks it whether the process is serve)."""

from __future__ import annotations

# Every command: its name -> (module in pjobs.cli, attribute, whether it is a group), in
# the order `--help` lists them. A call imports and builds only the command it runs.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "provision": ("lifecycle", "provision", False),
    "deprovision": ("lifecycle", "deprovision", False),
    "rotate-key": ("lifecycle", "rotate_key", False),
    "check-limits": ("enforcement", "check_limits", False),
    "scan-abuse": ("enforcement", "scan_abuse", False),
    "suspend": ("enforcement", "suspend", False),
    "resume": ("enforcement", "resume", False),
    "deliver-webhook": ("webhooks", "deliver_webhook", False),
    "export-backup": ("exports", "export_backup", False),
    "serve": ("serve", "serve", False),
    "top": ("top", "top", False),
    "jobs": ("jobs", "app", True),
    "projects": ("projects", "app", True),
    "owners": ("owners", "app", True),
    "keys": ("keys", "app", True),
    "usage": ("usage", "app", True),
    "quotas": ("quotas", "app", True),
    "webhooks": ("webhooks", "app", True),
    "events": ("events", "app", True),
    "backups": ("backups", "app", True),
    "schedules": ("schedules", "app", True),
    "alerts": ("alerts", "app", True),
    "abuse": ("abuse", "app", True),
    "audit": ("audit", "app", True),
    "notifications": ("notifications", "app", True),
    "db": ("db", "app", True),
    "config": ("config", "app", True),
}
# Global options that take a value (the command is the first word after the options).
_VALUED_OPTIONS = ("--db", "--config", "--profile", "--actor")
_FLAGS = ("-q", "--quiet", "-v", "-vv", "-vvv", "--verbose", "--no-color")
GLOBAL_OPTIONS = (*_VALUED_OPTIONS, *_FLAGS)


def is_the_program(argv: list[str]) -> bool:
    """Whether this process is the `pjobs` program (its console script, or `python -m
    pjobs`), not a library that imported pjobs.cli."""
    from pathlib import PurePath

    return PurePath(argv[0]).name in ("pjobs", "__main__.py")


def command_named(argv: list[str]) -> tuple[str, str | None] | None:
    """The command `argv` runs, if it is plainly one, and the word after it (a group's
    subcommand, or not); else None: build them all, for help, completion, or click's error
    naming the choices."""
    words = iter(argv)
    for word in words:
        if word in _VALUED_OPTIONS:
            next(words, None)
        elif word.split("=", 1)[0] in _VALUED_OPTIONS or word in _FLAGS:
            continue
        elif word.startswith("-"):  # --help, --version, the completion options
            return None
        else:
            return (word, next(words, None)) if word in COMMANDS else None
    return None


WATCH_EVERY = 2  # seconds, for a bare --watch


def with_optional_values(argv: list[str]) -> list[str]:
    """`argv` with the value an option may go without made explicit: `--watch` not followed
    by a number of seconds watches every WATCH_EVERY (click's options always take one)."""
    out: list[str] = []
    for n, word in enumerate(argv):
        out.append(word)
        if word == "--":
            return out + argv[n + 1 :]
        if word == "--watch":
            following = argv[n + 1] if n + 1 < len(argv) else ""
            if not _is_number(following):
                out.append(str(WATCH_EVERY))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
