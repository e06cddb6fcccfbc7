"""The model config stored as ``errseg.config`` and how it is assembled.

A config is a nested dict (schema: docs/ARCHITECTURE.md, "Model file format"). The converter
builds it from three sources, in this order of authority:

1. *derived* values, read off tensor shapes -- always right for this checkpoint;
2. the user's ``--config`` file -- must agree with every derived value, supplies the rest;
3. *defaults* -- layout conventions (e.g. text heads = width / 64) and the published model sizes.

``assemble`` merges them and reports every disagreement or missing value clearly.
"""

import copy
import json

from .errors import ConvertError
from .input_files import read_capped

MAX_CONFIG_BYTES = 1 << 20  # a model config is a few KB


def leaves(tree, prefix=""):
    """Yield (dotted path, value) for every non-dict value of a nested dict."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, path + ".")
        else:
            yield path, value


def get_path(tree, path, default=None):
    node = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_path(tree, path, value):
    parts = path.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if child is not None:
                raise ConvertError(f"config: '{part}' must be an object")
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _same(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def load_config_file(path):
    try:
        config = json.loads(read_capped(path, "--config", MAX_CONFIG_BYTES).decode("utf-8"))
    except OSError as exc:
        raise ConvertError(f"--config {path}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConvertError(f"--config {path}: not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ConvertError(f"--config {path}: must hold a JSON object")
    return config


def assemble(derived, user, defaults, required):
    """Merge derived values, the user's config and defaults; check ``required`` paths exist.

    Returns the merged config (the user's extra keys, e.g. ``note``, are kept).
    """
    config = copy.deepcopy(user) if user else {}
    for path, value in leaves(derived):
        given = get_path(config, path)
        if given is not None and not _same(given, value):
            raise ConvertError(f"--config says {path} = {json.dumps(given)} but the checkpoint's "
                               f"tensors give {json.dumps(value)}")
        set_path(config, path, value)
    for path, value in leaves(defaults):
        if get_path(config, path) is None:
            set_path(config, path, copy.deepcopy(value))
    missing = [path for path in required if get_path(config, path) is None]
    if missing:
        raise ConvertError("cannot determine " + ", ".join(missing) + " from the checkpoint's "
                           "tensors (not a published model size); pass --config with them")
    return config


def check_int(config, path, minimum=1):
    value = get_path(config, path)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConvertError(f"config {path} must be an integer >= {minimum}, got {value!r}")
    return value


def check_int_list(config, path, length=None, minimum=1):
    value = get_path(config, path)
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value):
        raise ConvertError(f"config {path} must be a list of integers >= {minimum}, got {value!r}")
    if length is not None and len(value) != length:
        raise ConvertError(f"config {path} must have {length} entries, got {len(value)}")
    return value


def check_choice(config, path, choices):
    value = get_path(config, path)
    if value not in choices:
        raise ConvertError(f"config {path} must be one of {', '.join(map(repr, choices))}, "
                           f"got {value!r}")
    return value


def check_divides(config, heads_path, width_path):
    heads = check_int(config, heads_path)
    width = check_int(config, width_path)
    if width % heads:
        raise ConvertError(f"config {heads_path} = {heads} does not divide {width_path} = {width}")
