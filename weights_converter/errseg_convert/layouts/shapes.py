"""Read model hyperparameters off tensor shapes, with clear errors for missing tensors."""

import re

from ..errors import ConvertError


class Shapes:
    """Shapes of a checkpoint's tensors under our names (``clip.*``, ``head.*``).

    ``source_name`` maps one of our names back to the checkpoint's spelling for messages.
    """

    def __init__(self, shapes, source_name=lambda name: name):
        self._shapes = shapes
        self._source_name = source_name

    def has(self, name):
        return name in self._shapes

    def get(self, name, ndim=None):
        shape = self._shapes.get(name)
        if shape is None:
            raise ConvertError(f"missing tensor '{self._source_name(name)}'")
        if ndim is not None and len(shape) != ndim:
            raise ConvertError(f"tensor '{self._source_name(name)}' has shape {list(shape)}, "
                               f"expected {ndim} dimensions")
        return shape

    def count(self, prefix):
        """Number of numbered children ``<prefix><i>.`` (indices must be 0..n-1)."""
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        indices = set()
        for name in self._shapes:
            m = pattern.match(name)
            if m:
                indices.add(int(m.group(1)))
        if indices != set(range(len(indices))):
            raise ConvertError(f"tensors '{self._source_name(prefix)}<i>.*' are not numbered "
                               f"0..n-1 (found {sorted(indices)[:10]})")
        return len(indices)
