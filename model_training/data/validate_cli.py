"""Validate a dataset before training and print the report.

    python -m model_training.data.validate_cli --source parquet --path data/aiornot.parquet
    python -m model_training.data.validate_cli --source folder --path data/mine --bad-rows skip

Every option but `--workers` and `--json` is a field of `DataConfig`, the config the
DataModule trains with: the flags are made from its fields, so they cannot drift apart.

Exit status: 0 valid (or bad rows skipped), 1 validation failed, 2 the source is unreadable.
"""

from __future__ import annotations

import argparse
import sys
import types
from dataclasses import MISSING, fields
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from docstring_parser import parse

from model_training.data.config import DataConfig
from model_training.data.records import DataError
from model_training.data.validation import DataValidationError


def field_help() -> dict[str, str]:
    """Each DataConfig field's note from its docstring, as `fit --help` shows it too."""
    return {
        item.arg_name: item.description or "" for item in parse(DataConfig.__doc__ or "").params
    }


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One `--kebab-name` flag per DataConfig field, typed, defaulted and described by it."""
    hints = get_type_hints(DataConfig)
    notes = field_help()
    for field in fields(DataConfig):
        hint = hints[field.name]
        default = None if field.default is MISSING else field.default
        note = notes.get(field.name, "")
        shown = note if default is None else f"{note} (default: {default})"
        options: dict[str, Any] = {"default": default, "help": shown}
        if get_origin(hint) in (Union, types.UnionType):  # X | None: the X
            hint = next(arg for arg in get_args(hint) if arg is not type(None))
        if get_origin(hint) is Literal:
            options["choices"] = get_args(hint)
        elif hint in (int, float):
            options["type"] = hint
        parser.add_argument(f"--{field.name.replace('_', '-')}", **options)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--workers", type=int, default=2, help="decoding threads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = DataConfig(**{field.name: getattr(args, field.name) for field in fields(DataConfig)})
    try:
        _, report = config.prepare(workers=args.workers)
    except DataValidationError as exc:
        print(exc.report.model_dump_json(indent=1) if args.json else exc, file=sys.stderr)
        return 1
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.model_dump_json(indent=1) if args.json else report.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
