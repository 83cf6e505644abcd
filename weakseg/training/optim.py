"""Paper 001's optimiser: SGD with momentum on the gradient divided by its global L2 norm.

The update is ``v ← μ·v − lr·g/‖g‖; θ ← θ + v`` with the norm taken over every
parameter (BN γ, β included), so the step length is set by the learning rate alone,
whatever the loss scale. The plateau schedule halves the rate when the loss stops
falling, as in the authors' code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


class NormalisedSGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 0.25, momentum: float = 0.9, eps: float = 1e-12):
        super().__init__(params, {"lr": lr, "momentum": momentum, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return loss
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
        for group in self.param_groups:
            scale = group["lr"] / max(float(norm), group["eps"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p)
                v = state["velocity"]
                v.mul_(group["momentum"]).add_(p.grad, alpha=-scale)
                p.add_(v)
        return loss


@dataclass
class PlateauHalving:
    """Every ``every`` iterations compare the mean loss of the last ``window`` iterations with the
    ``window`` before; if not below ``ratio`` × that, halve the rate (not under ``min_lr``).

    As in the authors' code, a second failure in a row does not halve again but
    lengthens the interval by ``extend`` iterations.
    """

    every: int = 500
    window: int = 245
    ratio: float = 0.99
    factor: float = 0.5
    min_lr: float = 1e-3
    extend: int = 100
    next_check: int = 0
    halved_last: bool = False
    losses: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.next_check:
            self.next_check = self.every

    def step(self, optimizer: torch.optim.Optimizer, iteration: int, loss: float) -> None:
        self.losses.append(float(loss))
        self.losses = self.losses[-2 * self.window:]
        if iteration + 1 < self.next_check:
            return
        self.next_check = iteration + 1 + self.every
        if len(self.losses) < 2 * self.window:
            return
        previous = sum(self.losses[:self.window]) / self.window
        recent = sum(self.losses[self.window:]) / self.window
        if recent < self.ratio * previous:
            self.halved_last = False
            return
        if self.halved_last:
            self.next_check += self.extend
            self.halved_last = False
            return
        for group in optimizer.param_groups:
            group["lr"] = max(group["lr"] * self.factor, self.min_lr)
        self.halved_last = True

    def state_dict(self) -> dict:
        return {"next_check": self.next_check, "halved_last": self.halved_last, "losses": list(self.losses)}

    def load_state_dict(self, state: dict) -> None:
        self.next_check = int(state["next_check"])
        self.halved_last = bool(state["halved_last"])
        self.losses = [float(x) for x in state["losses"]]
