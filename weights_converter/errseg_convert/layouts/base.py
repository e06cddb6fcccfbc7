"""What every checkpoint layout provides, and the common conversion steps built on it."""

from .. import model_config as mc
from ..errors import ConvertError
from .shapes import Shapes

DROP = object()   # returned by Layout.rename for tensors that are deliberately not converted


def _few(names, limit=5):
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


class Layout:
    """A family of checkpoints with one naming scheme.

    Subclasses define: ``name``, ``matches(names)``, ``rename(src) -> ours | DROP | None``,
    ``source_name(ours)``, ``derive(shapes) -> config tree``, ``defaults(derived)``,
    ``required`` (config paths), ``validate(config)``, ``expected(config) -> {ours: shape}``.
    """

    name = ""
    required = ()

    def matches(self, names):
        raise NotImplementedError

    def rename(self, src):
        raise NotImplementedError

    def source_name(self, ours):
        raise NotImplementedError

    def derive(self, shapes):
        raise NotImplementedError

    def defaults(self, derived):
        return {}

    def validate(self, config):
        pass

    def expected(self, config):
        raise NotImplementedError


class LayoutResult:
    def __init__(self, tensors, config, dropped):
        self.tensors = tensors    # our name -> TensorRef, in sorted order
        self.config = config      # the merged config (dict)
        self.dropped = dropped    # source names deliberately left out


def apply_layout(layout, tensors, user_config=None):
    """Rename ``tensors`` (source name -> TensorRef) to ours, build and check the config.

    Fails on tensors the layout does not know, missing tensors, shape mismatches and configs
    that disagree with the shapes.
    """
    mapped, dropped, unknown = {}, [], []
    for src, tensor in tensors.items():
        ours = layout.rename(src)
        if ours is DROP:
            dropped.append(src)
        elif ours is None:
            unknown.append(src)
        else:
            mapped[ours] = tensor
    shapes = Shapes({name: t.shape for name, t in mapped.items()}, layout.source_name)
    try:
        derived = layout.derive(shapes)
        config = mc.assemble(derived, user_config, layout.defaults(derived), layout.required)
        layout.validate(config)
        expected = layout.expected(config)
    except ConvertError as exc:
        if unknown:   # the foreign tensors are the likelier cause; name them first
            raise ConvertError(f"{len(unknown)} unexpected tensor(s) for the {layout.name} "
                               f"layout: {_few(unknown)}; and {exc}") from None
        raise
    extra = unknown + [layout.source_name(n) for n in mapped if n not in expected]
    missing = [layout.source_name(n) for n in expected if n not in mapped]
    problems = []
    if extra:
        problems.append(f"{len(extra)} unexpected tensor(s) for the {layout.name} layout: "
                        f"{_few(extra)}")
    if missing:
        problems.append(f"{len(missing)} tensor(s) missing for the {layout.name} layout: "
                        f"{_few(missing)}")
    if problems:
        raise ConvertError("; ".join(problems))
    for name, shape in expected.items():
        if tuple(mapped[name].shape) != tuple(shape):
            raise ConvertError(f"tensor '{layout.source_name(name)}' has shape "
                               f"{list(mapped[name].shape)}, expected {list(shape)} for this "
                               "config")
    return LayoutResult({name: mapped[name] for name in sorted(mapped)}, config, dropped)
