"""``onnxlint shapes MODEL``: every value's shape, dtype and where it came from."""
from __future__ import annotations

import sys

from analyzer.commands.base import print_file_error, safe, write_output
from analyzer.common import EXIT_ERROR, EXIT_OK, parse_input_shapes


def run(args) -> int:
    from analyzer.report.shapes import render_shapes
    from analyzer.linter.runner import lint_file

    input_shapes = parse_input_shapes(args.input_shape, keep=True)
    result, model = lint_file(args.model, [], input_shapes, display_path=args.model, keep_model=True)
    if result.status == "error":
        print_file_error(result)
        return EXIT_ERROR
    try:
        text = render_shapes(model, args.format, file=args.model)
    except Exception as e:  # a bug of ours: still one line, never a traceback
        msg = str(e).splitlines()[0] if str(e) else ""
        print(f"{safe(args.model)}: internal: internal error ({type(e).__name__}: {safe(msg)}); please report it", file=sys.stderr)
        return EXIT_ERROR
    write_output(args.output, text)
    return EXIT_OK
