"""``onnxlint suppress MODEL CODE[@NODE]...``: record suppressions in a model's metadata."""
from __future__ import annotations

import sys

from analyzer.commands.base import safe
from analyzer.common import EXIT_ERROR, EXIT_OK, UsageError


def run(args) -> int:
    from analyzer.linter.suppress import SuppressError, suppress_file

    if bool(args.output) == bool(args.in_place):
        raise UsageError("suppress: give exactly one of --output OUT or --in-place")
    try:
        added = suppress_file(args.model, args.codes, args.model if args.in_place else args.output)
    except SuppressError as e:
        print(f"{safe(args.model)}: {e.kind}: {safe(e.message)}", file=sys.stderr)
        return EXIT_ERROR
    target = args.model if args.in_place else args.output
    print(f"{safe(target)}: onnxlint:ignore = {safe(added)}")
    return EXIT_OK
