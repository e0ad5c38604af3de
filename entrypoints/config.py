"""Options from three places, one rule: command line > ``WEARSTREAM_<OPTION>`` > TOML file > default.

Sub-commands declare their options on argparse as usual, on an ``OptionParser``: as each option is
declared, the parser looks its value up in the environment and the config file (``--config PATH``
or ``WEARSTREAM_CONFIG``) and makes it the option's default. So every option of every command is
settable all three ways without the commands doing anything special, and only through argparse's
public API: the parser remembers what was declared (``OptionParser.options``) instead of reading
argparse's internals back.

A value from the environment or the file is checked exactly as the flag is: it is parsed by a
one-option argparse parser declared with the same ``type``, ``choices`` and ``action``. A bad value
is reported when its command runs (``WEARSTREAM_TIMEOUT`` may suit ``token`` and not ``scan``), as
a usage error naming the variable or the key. In the TOML file, options go under a table named for
the command (``[broker]`` with ``port = 8765``) or at the top level for all commands; a key no
command knows is refused at once, with the known ones, so a typo never passes unnoticed.

Every option gets a help text; a default worth showing is added to it when the text does not say it.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import tomllib
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

ENV_PREFIX = "WEARSTREAM_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_FLAGS = {"store_true": True, "store_false": False}  # action -> the value the flag stores
_SETTABLE = {None, "store", "append", *_FLAGS}  # actions a value from outside can stand for
_NOT_OPTIONS = {"help", "version", "config"}


class ConfigError(Exception):
    """A config file or environment value that cannot be used."""


class Commands(Protocol):
    """What ``add_subparsers`` returns, as the command modules use it."""

    def add_parser(self, name: str, **kwargs: Any) -> "OptionParser": ...


def env_name(dest: str) -> str:
    return ENV_PREFIX + dest.upper()


def load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path}: {error}") from None


class Sources:
    """The environment and the config file, and every parser that reads them."""

    def __init__(
        self, config: Mapping[str, Any], environ: Mapping[str, str], path: str | None = None
    ) -> None:
        self.config = config
        self.environ = environ
        self.file = f"config file {path}" if path else "the config file"
        self.parsers: dict[tuple[str, ...], OptionParser] = {}

    def lookup(self, command: str, dest: str) -> tuple[Any, str] | None:
        """(raw value, where it came from) for one option of one command, or None."""
        key = dest.replace("_", "-")
        table = self.config.get(command, {})
        if env_name(dest) in self.environ:
            return self.environ[env_name(dest)], env_name(dest)
        if isinstance(table, dict) and (key in table or dest in table):
            return table.get(key, table.get(dest)), f"[{command}] {key} in {self.file}"
        if key in self.config or dest in self.config:
            return self.config.get(key, self.config.get(dest)), f"{key} in {self.file}"
        return None

    def check_keys(self) -> None:
        """Refuse a TOML key or table that no command knows (a typo would otherwise pass)."""
        commands = {path[0]: parser for path, parser in self.parsers.items() if len(path) == 1}
        every = set().union(*(parser.keys() for parser in commands.values()))
        for name, value in self.config.items():
            if isinstance(value, dict):
                if name not in commands:
                    raise ConfigError(
                        f"{self.file}: unknown table [{name}]; the tables are the commands: "
                        + ", ".join(sorted(commands))
                    )
                _check(value, commands[name].keys(), f"{self.file}: unknown key {{}} in [{name}]")
            else:
                _check({name: value}, every, f"{self.file}: unknown top-level key {{}}")


def _check(table: Mapping[str, Any], known: set[str], message: str) -> None:
    for key in table:
        if key.replace("_", "-") not in known:
            raise ConfigError(f"{message.format(repr(key))}; known keys: {', '.join(sorted(known))}")


class OptionParser(argparse.ArgumentParser):
    """An ArgumentParser whose options also read ``WEARSTREAM_<OPTION>`` and the config file."""

    def __init__(self, *args: Any, sources: Sources | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources = sources
        self.path = tuple(self.prog.split()[1:])  # () for `wearstream`, ("broker",) for a command
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []  # (names, add_argument kwargs)
        self.outside_lists: dict[str, list[Any]] = {}  # repeatable options' values from env/TOML
        self.outside_errors: list[str] = []
        if sources is not None:
            sources.parsers[self.path] = self

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", functools.partial(type(self), sources=self.sources))
        return super().add_subparsers(**kwargs)

    def add_argument(self, *names: str, **kwargs: Any) -> argparse.Action:
        kwargs = _with_default_in_help(kwargs)
        dest = _dest(names, kwargs)
        if dest is None or dest in _NOT_OPTIONS:
            return super().add_argument(*names, **kwargs)
        self.options.append((names, kwargs))
        found = self._outside_value(dest)
        if found is not None and kwargs.get("action") in _SETTABLE:
            kwargs = {**kwargs, "required": False}  # the value came from outside
            try:
                value = _convert(names[0], kwargs, *found)
            except ConfigError as error:
                self.outside_errors.append(str(error))
            else:
                if kwargs.get("action") == "append":  # argparse would add the line's to these
                    self.outside_lists[dest] = value
                else:
                    kwargs["default"] = value
        return super().add_argument(*names, **kwargs)

    def command(self, *path: str) -> "OptionParser":
        """The parser of a sub-command (``command("developers", "create")``)."""
        assert self.sources is not None
        return self.sources.parsers[path]

    def keys(self) -> set[str]:
        """The TOML keys of this parser's options (``data-dir`` for ``--data-dir``)."""
        return {
            str(_dest(names, kwargs)).replace("_", "-")
            for names, kwargs in self.options
            if kwargs.get("action") in _SETTABLE
        }

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        if self.outside_errors:
            self.error(self.outside_errors[0])
        parsed, rest = super().parse_known_args(args, namespace)
        for dest, values in self.outside_lists.items():
            if getattr(parsed, dest, None) is None:  # a repeatable flag given on the line wins
                setattr(parsed, dest, values)
        return parsed, rest

    def _outside_value(self, dest: str) -> tuple[Any, str] | None:
        if self.sources is None or len(self.path) != 1:
            return None  # the top level and nested actions (their options repeat the command's)
        return self.sources.lookup(self.path[0], dest)


def _with_default_in_help(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Say the default in the help text, unless it says it already or there is none to say."""
    help_text, default = kwargs.get("help"), kwargs.get("default")
    if not help_text or help_text == argparse.SUPPRESS or default in (None, False, argparse.SUPPRESS):
        return kwargs
    if "default" in help_text or "%(default)" in help_text:
        return kwargs
    return {**kwargs, "help": help_text + " (default %(default)s)"}


def _items(raw: str, option: str, origin: str) -> list[str]:
    """A repeatable option's values from one string: separated by spaces or commas, and in double
    quotes where one has a space or a comma (``"ble:name=Polar H10*" sim``). Nothing else is
    special: ``#``, ``'`` and backslashes are kept as they are (paths and names hold them)."""
    lexer = shlex.shlex(raw, posix=True)
    lexer.whitespace += ","
    lexer.whitespace_split = True
    lexer.commenters = ""
    lexer.quotes = '"'
    lexer.escape = ""
    try:
        return list(lexer)
    except ValueError as error:  # an unclosed quote
        raise ConfigError(f"{origin}: bad value for {option}: {error} in {raw!r}") from None


def _convert(option: str, kwargs: Mapping[str, Any], raw: Any, origin: str) -> Any:
    """What the flag would have stored, checked by argparse itself with the flag's own declaration."""
    action = kwargs.get("action")
    if action in _FLAGS:
        return _boolean(raw, origin) == _FLAGS[action]
    if action == "append":
        items = raw if isinstance(raw, list) else _items(str(raw), option, origin)
    elif isinstance(raw, (list, dict)):
        raise ConfigError(f"{origin}: expected one value for {option}, got {raw!r}")
    else:
        items = [raw]
    probe = argparse.ArgumentParser(prog=origin, add_help=False, exit_on_error=False)
    declared = {k: v for k, v in kwargs.items() if k in ("action", "type", "choices", "dest")}
    probe.add_argument(option, **declared)
    try:
        parsed = probe.parse_args([f"{option}={item}" for item in items])
    except argparse.ArgumentError as error:
        raise ConfigError(f"{origin}: bad value for {option}: {error.message}") from None
    (value,) = vars(parsed).values()
    return value


def _boolean(raw: Any, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in _TRUE | _FALSE:
        raise ConfigError(f"{origin}: expected true or false, got {raw!r}")
    return text in _TRUE


def _dest(names: Sequence[str], kwargs: Mapping[str, Any]) -> str | None:
    """An option's ``dest`` by argparse's documented rule; None for a positional argument."""
    if not names or not names[0].startswith("-"):
        return None
    if kwargs.get("dest"):
        return str(kwargs["dest"])
    long = next((n for n in names if n.startswith("--")), names[0])
    return long.lstrip("-").replace("-", "_")
