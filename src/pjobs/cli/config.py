"""`pjobs config …`: the settings in effect, and the config file's named profiles."""

from __future__ import annotations

import typer

from pjobs.cli.options import JsonOption
from pjobs.cli.runtime import runtime

app = typer.Typer(
    help="The settings in effect (secrets hidden), and the config file's profiles.",
    no_args_is_help=True,
)


@app.command("show")
def show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every setting in effect — the config file, its profile (--profile, PJOBS_PROFILE),
    the environment, the flags, each over the one before — one `key = value` a line;
    secrets and passwords hidden.

    Example: pjobs --profile prod config show
    """
    import json

    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.settings.config import profile_name, settings_document
    from pjobs.settings.locations import config_file_path

    rt = runtime(ctx)
    document = settings_document(rt.settings())
    path = config_file_path(rt.config)
    profile = profile_name(rt.profile)
    if as_json:
        print_json({"config_file": path, "profile": profile, "settings": document})
        return
    message(f"config file: {path or 'none'}; profile: {profile or 'none'}", rt.quiet)
    print_lines([f"{key} = {json.dumps(value)}" for key, value in flattened(document)])


def flattened(document: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) of every leaf setting, in order."""
    pairs: list[tuple[str, object]] = []
    for key, value in document.items():
        if isinstance(value, dict) and value:
            pairs += flattened(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", value))
    return pairs


@app.command("profiles")
def profiles(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The config file's profiles ([profiles.NAME] tables): each one's database (its
    password hidden), the settings it sets, and which is in use.

    Example: pjobs config profiles
    """
    from pjobs.cli.output import print_records
    from pjobs.redaction import redact
    from pjobs.settings.config import profile_name, profiles_of

    rt = runtime(ctx)
    _, found = profiles_of(rt.config)
    active = profile_name(rt.profile)
    rows = [
        {
            "name": name,
            "active": name == active,
            "database_url": redact(str(table["database_url"])) if "database_url" in table else None,
            "sets": sorted(key for key, _ in flattened(table)),
        }
        for name, table in sorted(found.items())
    ]
    print_records("profiles", rows, ("name", "active", "database_url", "sets"), as_json)
