"""Options from three places, one rule: command line > ``WEARSTREAM_<OPTION>`` > TOML file > default.

Sub-commands declare their options on argparse as usual; ``apply_defaults`` then fills in each
option's default from the environment and from the config file (``--config PATH`` or
``WEARSTREAM_CONFIG``), so every option of every command is settable all three ways without the
commands doing anything special. In the TOML file, options go under a table named for the command
(``[broker]`` with ``port = 8765``) or at the top level for all commands.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "WEARSTREAM_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """A config file or environment value that cannot be used."""


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


def _convert(action: argparse.Action, raw: Any, origin: str) -> Any:
    """Turn an env string or TOML value into what the action would have stored."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if isinstance(raw, bool):
            value = raw
        elif str(raw).strip().lower() in _TRUE | _FALSE:
            value = str(raw).strip().lower() in _TRUE
        else:
            raise ConfigError(f"{origin}: expected true or false, got {raw!r}")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if isinstance(action, argparse._AppendAction):
        items = raw if isinstance(raw, list) else [s for s in str(raw).replace(",", " ").split()]
        return [_one(action, item, origin) for item in items]
    return _one(action, raw, origin)


def _one(action: argparse.Action, raw: Any, origin: str) -> Any:
    if action.type is None or not isinstance(raw, str):
        return raw if action.type is None or not isinstance(raw, (int, float)) else action.type(raw)
    try:
        return action.type(raw)  # type: ignore[misc]
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{origin}: {error}") from None


def apply_defaults(
    parser: argparse.ArgumentParser,
    command: str,
    config: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Set each option's default from the environment or the config file."""
    table = config.get(command, {})
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "config"):
            continue
        dest = action.dest
        key = dest.replace("_", "-")
        if env_name(dest) in environ:
            raw, origin = environ[env_name(dest)], env_name(dest)
        elif isinstance(table, dict) and (key in table or dest in table):
            raw, origin = table.get(key, table.get(dest)), f"[{command}] {key}"
        elif key in config or dest in config:
            raw, origin = config.get(key, config.get(dest)), key
        else:
            continue
        action.default = _convert(action, raw, origin)
        action.required = False
