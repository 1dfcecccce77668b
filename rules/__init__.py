"""The built-in rules: one module (or package) per rule, found by
``analyzer.linter.registry``.  Each defines CODE, NAME, SEVERITY, a docstring (its
documentation) and ``check(model, options) -> iterable of Finding``."""
