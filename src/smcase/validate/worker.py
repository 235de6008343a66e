"""A validator's second process: ``python -m smcase.validate.worker STANDARDS JOURNAL... --hash FILE...``.

Checks each journal of a Noark 5 extraction in one streaming pass (schema, head,
SHA-256; ``noark5.journal_pass``), hashes each file after ``--hash``, and prints
the results as one JSON object keyed by path. It is its own interpreter, started by the validator while
it reads arkivstruktur.xml: unlike a multiprocessing worker it never imports the
caller's main module, so it runs no code of the program that asked for it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict


def main(argv: list[str]) -> int:
    """Run the passes for ``argv`` (the standards folder, the journals, ``--hash`` and the files only to hash)
    and print them as JSON."""
    from .noark5 import file_passes

    standards, *paths = argv
    cut = paths.index("--hash") if "--hash" in paths else len(paths)
    found = file_passes(standards, paths[:cut], paths[cut + 1:])
    json.dump({path: asdict(result) for path, result in found.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
