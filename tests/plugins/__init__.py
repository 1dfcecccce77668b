"""Rule plugins: an example plugin package (``onnxlint_example_plugin``, with its
``*.dist-info`` next to it, so that this folder on ``sys.path`` is an installed
distribution) and the tests that discover it."""
