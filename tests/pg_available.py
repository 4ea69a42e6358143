"""Exit 0 when the PostgreSQL server for the tests answers, 1 otherwise (used by the Makefile)."""

from __future__ import annotations

import os
import sys

import psycopg

DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def main() -> int:
    """Try one connection to ``METERHUB_TEST_PG_URL``."""
    url = os.environ.get("METERHUB_TEST_PG_URL", DEFAULT).replace("+psycopg", "")
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL at {url}: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
