"""Networks, one per file, rebuilt from a (name, config dict) pair stored in model cards.

A network module declares ``NETWORK = ("name", NetworkClass, ConfigClass)`` (the config
class has ``from_dict``); modules are discovered, so adding a network never touches this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import contextmanager
from functools import lru_cache

from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.unet2d import UNet2D, UNet2DConfig


@lru_cache(maxsize=None)
def networks() -> dict[str, tuple[type, type]]:
    """Every network declared in this package: name → (network class, config class)."""
    found: dict[str, tuple[type, type]] = {}
    for entry in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{entry.name}")
        declared = getattr(module, "NETWORK", None)
        if declared is not None:
            name, cls, cfg_cls = declared
            if name in found:
                raise WeakSegError(f"network '{name}' declared twice ({module.__name__})")
            found[name] = (cls, cfg_cls)
    return found


_INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "xavier_uniform_",
                 "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_")


@contextmanager
def _weights_not_initialised():
    """torch.nn.init's in-place initialisers do nothing inside (the weights are about to be loaded; random
    init of a U-Net costs time, and on the meta device its first call imports torch's compiler, ~1.5 s)."""
    saved = {name: getattr(nn.init, name) for name in _INITIALISERS}
    try:
        for name in _INITIALISERS:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def build_network(name: str, config: dict, *, initialise: bool = True) -> nn.Module:
    """Instantiate a registered network from its card entry (no code is unpickled).

    ``initialise=False``: parameters are left as allocated, for a network whose weights are loaded next."""
    known = networks()
    if name not in known:
        raise WeakSegError(f"unknown network '{name}' (known: {', '.join(known)})")
    cls, cfg_cls = known[name]
    if initialise:
        return cls(cfg_cls.from_dict(config))
    with _weights_not_initialised():
        return cls(cfg_cls.from_dict(config))


__all__ = ["UNet2D", "UNet2DConfig", "build_network", "networks"]
