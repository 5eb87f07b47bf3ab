"""The real app with a short S3 read timeout (HARDENING_S3_READ_TIMEOUT seconds), for tests.

lambda_fn.store.s3_client's 30 s default makes a hanging store cost minutes per start;
this module lowers only that default, then builds the app exactly as lambda_fn.app does.
"""

from __future__ import annotations

import os

from lambda_fn import store

assert store.s3_client.__kwdefaults__ is not None
store.s3_client.__kwdefaults__["read_timeout"] = float(os.environ["HARDENING_S3_READ_TIMEOUT"])

from lambda_fn.app import create_app  # noqa: E402  (after the patch, on purpose)

app = create_app()
