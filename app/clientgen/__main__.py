"""`python -m app.clientgen [--check]`: regenerate the client interfaces under `clients/`."""

from __future__ import annotations

import argparse
import sys

from . import CLIENTS, drifted, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.clientgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is not current")
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted()
        for name in stale:
            print(f"clients/{name} is not what the models give", file=sys.stderr)
        if stale:
            print("run `python -m app.clientgen` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for name in write():
        print(f"wrote {CLIENTS.name}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
