"""``python -m regie.store verify URL``: check the decision records' chain (for auditors and cron).

Prints the result and the head (the last record's id and hash, worth keeping outside
the database); exit 0 when the chain is intact, 1 when it breaks, 2 for a bad store.
"""

from __future__ import annotations

import sys

from regie.store.api import open_store
from regie.store.errors import StoreError


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: python -m regie.store verify URL", file=sys.stderr)
        return 2
    try:
        with open_store(argv[1]) as store:
            report = store.verify_chain()
            print(report.summary())
            if report.ok and report.records:
                last = store.get_record(report.records)
                if last is not None:
                    print(f"head: record {last.id} {last.hash}")
    except StoreError as err:
        print(f"regie: error: {err}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
