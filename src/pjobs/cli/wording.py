"""How the command line reads: its help (on a terminal and in the man pages made from
it) and its usage errors.

Typer labels each parameter with its Python type (`<str>`, `<int range>`, `<list[str]>`),
appends numeric ranges (`[1<=x<=9223372036854775807]`), cuts each command's summary in a
command list to one line, and re-wraps examples. pjobs' help instead names a value as an
operator types it (`TEXT`, `N`, the choices), leaves bounds to the help text and the error
that enforces them, shows each summary whole (wrapped), and keeps every example on a line
of its own. `install()` makes these changes, once, on Typer's parameter and command
classes, before any help is made.

Usage errors are said in words too: a value Typer could not convert is named with what
was expected (a whole number, one of the choices and the one probably meant), never with
pydantic's wording.
"""

from __future__ import annotations

import inspect
from typing import Any

_INSTALLED: list[bool] = []


def value_label(param: Any, ctx: Any) -> str:
    """What an option's value is called in help: its choices, or a word for its kind."""
    desc = param.type_descriptor
    if desc.is_choice and desc.choices is not None:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    if desc.is_path:
        return {"file": "FILE", "directory": "DIR"}.get(str(desc.path_type), "PATH")
    annotation = desc.annotation
    if desc.is_list:
        annotation = getattr(annotation, "__args__", (str,))[0]
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    return "TEXT"


def summary(help_text: str | None) -> str:
    """A command's first sentence, whole: what a command list shows of it."""
    first = inspect.cleandoc(help_text or "").split("\n\n", 1)[0].replace("\n", " ")
    sentence, stop, _ = first.partition(". ")
    return sentence + ("." if stop else "")


def keep_examples(help_text: str) -> str:
    """Help with each example paragraph marked so that it is never re-wrapped (click's
    `\\b`); an example paragraph is one whose lines start with "Example:"."""
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return "\n\n".join(
        "\b\n" + p if p.lstrip().startswith(("Example:", "Examples:")) else p for p in paragraphs
    )


def install() -> None:
    """Make Typer's help read as described above (once per process)."""
    if _INSTALLED:
        return
    _INSTALLED.append(True)
    from typer import core
    from typer._click.core import Command

    def option_label(self: Any, ctx: Any) -> str:
        return str(self.metavar) if self.metavar is not None else value_label(self, ctx)

    def argument_label(self: Any, ctx: Any) -> None:
        return None  # the argument's name says it

    def no_range(self: Any) -> None:
        return None

    def short_help(self: Any, limit: int = 45) -> str:
        return str(self.short_help or summary(self.help))

    def help_text(self: Any, ctx: Any, formatter: Any) -> None:
        text = inspect.cleandoc(self.help or "").partition("\f")[0]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(keep_examples(text))

    core.TyperOption.display_type_rich = option_label  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = argument_label  # type: ignore[method-assign]
    core.TyperOption._get_number_range_help_str = no_range  # type: ignore[method-assign]
    core.TyperArgument._get_number_range_help_str = no_range  # type: ignore[method-assign]
    Command.get_short_help_str = short_help  # type: ignore[method-assign]
    Command.format_help_text = help_text  # type: ignore[method-assign]


def usage_error(exc: Exception) -> str:
    """One line for a usage error: what was wrong with which parameter, in words."""
    from pydantic import ValidationError
    from typer._click.exceptions import BadParameter

    from pjobs.errors import choice_hint
    from pjobs.ids import in_words

    cause = exc.__cause__
    plain = str(exc.format_message()).replace("\n", " ")  # type: ignore[attr-defined]
    if not isinstance(exc, BadParameter) or exc.param is None:
        return plain
    param: Any = exc.param
    if param.param_type_name == "option":
        name = param.opts[0]
    else:
        name = param.metavar or str(param.name).upper()
    desc = getattr(param, "type_descriptor", None)
    if desc is None or not (isinstance(cause, ValidationError) or desc.is_choice):
        return plain
    if desc.is_choice and desc.choices is not None:
        choices = [str(getattr(c, "value", c)) for c in desc.choices]
        given = _given(cause)
        return f"{name} {given[:40]!r}: one of {', '.join(choices)}{choice_hint(given, choices)}"
    assert isinstance(cause, ValidationError)
    detail = cause.errors()[0]
    return f"{name} {str(detail.get('input'))[:40]!r}: {in_words(detail)}"


def _given(cause: BaseException | None) -> str:
    """The value a choice was given, from the error that refused it."""
    from pydantic import ValidationError

    if isinstance(cause, ValidationError):
        return str(cause.errors()[0].get("input"))
    return ""
