"""Networks, one per file, rebuilt from a (name, config dict) pair stored in model cards."""

from __future__ import annotations

from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.unet2d import UNet2D, UNet2DConfig

NETWORKS = {"unet2d": (UNet2D, UNet2DConfig)}


def build_network(name: str, config: dict) -> nn.Module:
    """Instantiate a registered network from its card entry (no code is unpickled)."""
    if name not in NETWORKS:
        raise WeakSegError(f"unknown network '{name}' (known: {', '.join(NETWORKS)})")
    cls, cfg_cls = NETWORKS[name]
    return cls(cfg_cls.from_dict(config))


__all__ = ["NETWORKS", "UNet2D", "UNet2DConfig", "build_network"]
