"""onnxlint-example-plugin: a third-party onnxlint rule, shipped the way a plugin is.

Its distribution metadata (``onnxlint_example_plugin-0.1.0.dist-info`` next to this
package) declares the entry point ``XID001 = onnxlint_example_plugin.xid001_identity_node``
in the group ``onnxlint.rules``; a real package writes the same thing in its
pyproject.toml::

    [project.entry-points."onnxlint.rules"]
    XID001 = "onnxlint_example_plugin.xid001_identity_node"
"""
