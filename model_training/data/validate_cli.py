"""Validate a dataset before training and print the report.

    python -m model_training.data.validate_cli --source parquet --path data/aiornot.parquet
    python -m model_training.data.validate_cli --source folder --path data/mine --bad-rows skip

Exit status: 0 valid (or bad rows skipped), 1 validation failed, 2 the source is unreadable.
"""

from __future__ import annotations

import argparse
import sys
from typing import get_args

from model_training.data.config import DataConfig
from model_training.data.records import DataError
from model_training.data.sources import HUB_DATASET, SourceName
from model_training.data.validation import DEFAULT_MIN_SIZE, BadRowPolicy, DataValidationError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=get_args(SourceName), default="demo")
    parser.add_argument("--path", default=None, help="parquet file/dir/glob, folder, demo root")
    parser.add_argument("--bad-rows", choices=get_args(BadRowPolicy), default="fail")
    parser.add_argument("--min-image-size", type=int, default=DEFAULT_MIN_SIZE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--demo-samples-per-photo", type=int, default=60)
    parser.add_argument("--demo-max-side", type=int, default=None)
    parser.add_argument("--hub-dataset", default=HUB_DATASET)
    parser.add_argument("--hf-cache-dir", default=None)
    parser.add_argument("--workers", type=int, default=2, help="decoding threads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = DataConfig(
        source=args.source,
        path=args.path,
        seed=args.seed,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        bad_rows=args.bad_rows,
        limit=args.limit,
        demo_samples_per_photo=args.demo_samples_per_photo,
        demo_max_side=args.demo_max_side,
        hub_dataset=args.hub_dataset,
        min_image_size=args.min_image_size,
        hf_cache_dir=args.hf_cache_dir,
    )
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
