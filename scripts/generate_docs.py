"""Write the shell completions (completions/), the man pages (man/) and README's settings
reference from the command tree and the settings model, so they cannot drift from
`pjobs --help` and the settings pjobs reads.

    python scripts/generate_docs.py           # write them
    python scripts/generate_docs.py --check   # exit 1 and name what is stale

Typer 0.29 carries its own copy of Click, so tools that expect a `click.Command` do not
apply; the man pages are written here from the same help records `--help` prints.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROG = "pjobs"
COMPLETE_VAR = "_PJOBS_COMPLETE"
COMPLETIONS = {"bash": "pjobs.bash", "zsh": "_pjobs", "fish": "pjobs.fish"}

ENVIRONMENT = [
    ("PJOBS_DATABASE_URL", "The control database (as --db): sqlite:///PATH or postgresql://…"),
    ("PJOBS_CONFIG", "The TOML configuration file (as --config)."),
    ("PJOBS_PROFILE", "The config file's profile in use (as --profile)."),
    ("PJOBS_DATA_DIR", "Where the default SQLite database, tenant files and backups live."),
    ("PJOBS_ACTOR", "Who the audit trail names as asking (as --actor)."),
    (
        "PJOBS_<GROUP>__<SETTING>",
        "Any setting, e.g. PJOBS_WORKER__CONCURRENCY=20; README lists them all.",
    ),
    ("NO_COLOR", "No colours in output (as --no-color)."),
    ("XDG_DATA_HOME, XDG_CONFIG_HOME", "The default data and configuration folders."),
]
FILES = [
    ("$XDG_CONFIG_HOME/pjobs/config.toml", "The configuration file, if present."),
    ("$XDG_DATA_HOME/pjobs/pjobs.db", "The default (SQLite) control database, mode 0600."),
    ("$XDG_DATA_HOME/pjobs/tenants/", "SQLite tenant databases."),
    ("$XDG_DATA_HOME/pjobs/backups/", "Local backups, mode 0600 in 0700 folders."),
]


def command_tree() -> tuple[Any, Any]:
    import typer.main

    from pjobs.cli import register

    app = register()

    root = typer.main.get_command(app)
    return root, root.make_context(PROG, [], resilient_parsing=True)


def walk(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """(command, its context) for the command and every command below it, in order."""
    yield command, ctx
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from walk(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True))


# -- completions --------------------------------------------------------------------------


def completions() -> dict[str, str]:
    from typer._completion_shared import get_completion_script

    return {
        f"completions/{file}": get_completion_script(
            prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell
        ).rstrip()
        + "\n"
        for shell, file in COMPLETIONS.items()
    }


# -- man pages ----------------------------------------------------------------------------


def roff(text: str) -> str:
    """Text safe in a roff body: backslashes, hyphens that start words, characters beyond
    ASCII (as \\[uXXXX]), and lines that would start with a control character."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w])-", r"\\-", text)
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    lines = [("\\&" + line if line.startswith((".", "'")) else line) for line in text.split("\n")]
    return "\n".join(lines)


def split_help(text: str) -> tuple[list[str], list[str]]:
    """A command's help as its paragraphs and its example lines ("Example: …")."""
    paragraphs, examples = [], []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        lines = [line.strip() for line in block.strip().splitlines()]
        prose = []
        for line in lines:
            if line.startswith(("Example:", "Examples:")):
                examples.append(line.split(":", 1)[1].strip())
            elif line:
                prose.append(line)
        if prose:
            paragraphs.append(" ".join(prose))
    return paragraphs, examples


def first_sentence(text: str) -> str:
    paragraphs, _ = split_help(text)
    head = paragraphs[0] if paragraphs else ""
    return head.split(". ")[0].rstrip(".")


def options(command: Any, ctx: Any) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        out += [".TP", f"\\fB{roff(names)}\\fR", roff(help_text)]
    return out


def usage(command: Any, ctx: Any) -> str:
    return f"\\fB{roff(ctx.command_path)}\\fR {roff(' '.join(command.collect_usage_pieces(ctx)))}"


def page_name(ctx: Any) -> str:
    return str(ctx.command_path).replace(" ", "-")


def man_page(command: Any, ctx: Any, root: Any, version: str) -> str:
    name = page_name(ctx)
    is_root = ctx.parent is None
    lines = [
        f'.TH "{name.upper()}" 1 "" "pjobs {version}" "pjobs manual"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(first_sentence(command.help or ''))}",
        ".SH SYNOPSIS",
    ]
    subcommands = [] if is_root else list(walk(command, ctx))[1:]
    if subcommands:
        for sub, sub_ctx in subcommands:
            lines += [usage(sub, sub_ctx), ".br"]
        lines.pop()
    else:
        lines.append(usage(command, ctx))
    paragraphs, examples = split_help(command.help or "")
    lines.append(".SH DESCRIPTION")
    for paragraph in paragraphs:
        if paragraph.startswith("Exit codes:"):
            continue
        lines += [roff(paragraph), ".PP"]
    lines.pop()
    if is_root:
        lines += [".SH COMMANDS"]
        for sub_name, sub in root.commands.items():
            if sub.hidden:
                continue
            target = f"{PROG}-{sub_name}"
            lines += [".TP", f"\\fB{roff(target)}\\fR(1)", roff(first_sentence(sub.help or ""))]
    elif subcommands:
        lines.append(".SH COMMANDS")
        for sub, sub_ctx in subcommands:
            sub_paragraphs, sub_examples = split_help(sub.help or "")
            examples += sub_examples
            lines += [".SS " + roff(sub_ctx.command_path)]
            for paragraph in sub_paragraphs:
                lines += [roff(paragraph), ".PP"]
            lines += options(sub, sub_ctx)
    own = options(command, ctx)
    if own:
        lines += [".SH OPTIONS", *own]
    if not is_root:
        lines += [
            ".PP",
            f"The global options of \\fB{PROG}\\fR(1) (\\-\\-db, \\-\\-config, \\-\\-profile, "
            "\\-\\-actor, \\-q, \\-v, \\-\\-no\\-color) go before the command.",
        ]
    lines += [".SH EXIT STATUS", *exit_status(name)]
    lines.append(".SH ENVIRONMENT")
    for variable, meaning in ENVIRONMENT:
        lines += [".TP", f"\\fB{roff(variable)}\\fR", roff(meaning)]
    lines.append(".SH FILES")
    for path, meaning in FILES:
        lines += [".TP", f"\\fI{roff(path)}\\fR", roff(meaning)]
    if examples:
        lines.append(".SH EXAMPLES")
        for example in examples:
            lines += [".PP", ".nf", f"\\f(CW{roff(example)}\\fR", ".fi"]
    lines += [".SH SEE ALSO", see_also(root, ctx)]
    return "\n".join(lines) + "\n"


def exit_status(page: str) -> list[str]:
    """Every page's exit codes; the keys page also those of `keys verify` alone."""
    from pjobs.errors import EXIT_CODES_MEANING, KEY_VERDICTS_MEANING

    codes = dict(EXIT_CODES_MEANING)
    if page == f"{PROG}-keys":
        codes |= KEY_VERDICTS_MEANING
    lines = []
    for code, meaning in sorted(codes.items()):
        lines += [".TP", f"\\fB{int(code)}\\fR", roff(meaning)]
    return lines


def see_also(root: Any, ctx: Any) -> str:
    names = [PROG] if ctx.parent is not None else []
    names += [f"{PROG}-{name}" for name, sub in root.commands.items() if not sub.hidden]
    names = [n for n in names if n != page_name(ctx)]
    return ",\n".join(f"\\fB{roff(n)}\\fR(1)" for n in names)


def man_pages() -> dict[str, str]:
    from pjobs import __version__

    root, root_ctx = command_tree()
    pages = {f"man/{PROG}.1": man_page(root, root_ctx, root, __version__)}
    for name, sub in root.commands.items():
        if sub.hidden:
            continue
        ctx = sub.make_context(name, [], parent=root_ctx, resilient_parsing=True)
        pages[f"man/{page_name(ctx)}.1"] = man_page(sub, ctx, root, __version__)
    return pages


# -- the settings reference in README -----------------------------------------------------

SETTINGS_BEGIN = "<!-- settings: generated by scripts/generate_docs.py from the settings model -->"
SETTINGS_END = "<!-- /settings -->"


def default_text(field: Any) -> str:
    value = field.default
    if field.default_factory is not None:
        value = field.default_factory()
        if not isinstance(value, dict | list) or len(json.dumps(value, default=str)) > 40:
            return "see meaning"  # a path of this machine, or too long for a table cell
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, dict | list | tuple):
        return f"`{json.dumps(value, separators=(', ', ': '))}`"
    return f"{value:g}" if isinstance(value, float) else str(value)


def env_name(key: str) -> str:
    return "PJOBS_" + key.upper().replace(".", "__")


def settings_rows(model: Any, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """A row a setting: the model's fields, then (on the top level) its groups'."""
    from pydantic import BaseModel

    from pjobs.settings.config import SECTIONS, Settings

    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from settings_rows(kind, key + ".")
            continue
        yield key, env_name(key), default_text(field), field.description or ""
    if model is Settings:
        for name, section in SECTIONS.items():
            kind = section.annotation()
            if section.keyed:
                yield name, env_name(name), "`{}`", section.description
            else:
                yield from settings_rows(kind, name + ".")


def settings_table() -> str:
    from pjobs.settings.config import Settings

    lines = [
        SETTINGS_BEGIN,
        "| TOML key | environment variable | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key, env, default, meaning in settings_rows(Settings):
        lines.append(f"| `{key}` | `{env}` | {default} | {meaning.replace('|', '/')} |")
    return "\n".join([*lines, SETTINGS_END])


def readme() -> str:
    text = (ROOT / "README.md").read_text()
    start, end = text.index(SETTINGS_BEGIN), text.index(SETTINGS_END) + len(SETTINGS_END)
    return text[:start] + settings_table() + text[end:]


def generated() -> dict[str, str]:
    """Every generated file, by its path in the repository."""
    return {**completions(), **man_pages(), "README.md": readme()}


def read(path: str) -> str:
    return (ROOT / path).read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say what is stale")
    args = parser.parse_args()
    files = generated()
    stale = [p for p, text in files.items() if not (ROOT / p).is_file() or read(p) != text]
    known = {
        f"{folder}/{p.name}"
        for folder in ("completions", "man")
        if (ROOT / folder).is_dir()
        for p in (ROOT / folder).iterdir()
    }
    extra = sorted(known - set(files))
    if args.check:
        for path in stale + extra:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale or extra else 0
    for path, text in files.items():
        target = ROOT / path
        target.parent.mkdir(exist_ok=True)
        target.write_text(text)
    for path in extra:
        (ROOT / path).unlink()
    print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
