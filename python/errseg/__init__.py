"""errseg: ERR-Seg open-vocabulary semantic segmentation and CLIP, on the errseg C++ core.

    import errseg
    m = errseg.ErrSeg("errseg_b.safetensors", threads=2)
    classes = m.encode_classes("ade150")          # or a list of names; cached per vocabulary
    r = m.segment("photo.jpg", classes)           # or an H x W x 3 uint8 NumPy array
    r.labels, r.logits, r.selected, r.timings     # arrays are views of the result, no copies

Library errors raise errseg.Error with the library's message. The GIL is released while the
library computes, so Python threads can segment at once (the model is shared read-only).
"""

import os as _os
from typing import Sequence, Union

from ._errseg import (  # noqa: F401
    Classes,
    Clip,
    ErrSeg,
    Error,
    SegmentResult,
    cpu_isa,
    get_num_threads,
    load_image,
    set_num_threads,
    write_label_png,
)
from . import _errseg

__all__ = [
    "Classes", "Clip", "ErrSeg", "Error", "SegmentResult", "cpu_isa", "get_num_threads", "load_image",
    "set_num_threads", "tokenize", "write_label_png",
]

_MERGES = _os.path.join(_os.path.dirname(__file__), "clip_bpe_merges.txt")


def tokenize(texts: Union[str, Sequence[str]], context_length: int = 77):
    """CLIP BPE token ids (start/end tokens, zero padding) with CLIP's standard vocabulary:
    an N x context_length int32 array. Model files carry their own vocabulary:
    ErrSeg.tokenize / Clip.tokenize use it."""
    if isinstance(texts, str):
        texts = [texts]
    return _errseg._tokenize_with_merges(list(texts), _MERGES, context_length)
