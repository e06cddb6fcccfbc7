"""errseg_convert: convert PyTorch / OpenCLIP checkpoints to errseg safetensors model files.

Needs only Python 3 and numpy. Modules, one concept each:

* ``errors``          -- ``ConvertError``, the one exception type users see.
* ``dtypes``          -- element types shared by the readers and the writer.
* ``tensor_ref``      -- lazily read tensors (shape/dtype known before any data is read).
* ``safe_unpickler``  -- allow-list unpickler for PyTorch pickles (never runs foreign code).
* ``torch_zip``       -- reader for ``torch.save`` zip archives and TorchScript archives.
* ``safetensors_io``  -- safetensors reader and streaming, atomic writer.
* ``checkpoint``      -- open any supported input file and return a flat ``name -> tensor`` map.
* ``layouts``         -- detect a checkpoint layout, map its names to ours, derive the config.
* ``converter``       -- the whole conversion (used by ``convert.py`` and the tests).
"""

from .errors import ConvertError

__all__ = ["ConvertError"]
