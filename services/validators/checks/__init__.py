"""The validators' checks, one module per tool, and `validate_tree` that runs them together."""

from .runner import CHECK_NAMES, validate_tree

__all__ = ["CHECK_NAMES", "validate_tree"]
