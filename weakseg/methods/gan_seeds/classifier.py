"""Stage 1 (§2.1): the binary slice classifier C, trained on class-balanced batches with BCE."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from weakseg.errors import WeakSegError
from weakseg.nn.slice_classifier import SliceClassifier, SliceClassifierConfig

from .common import StageMethod, flip_rows


def classifier_config(options) -> SliceClassifierConfig:
    return SliceClassifierConfig(len(options.sequences), options.classifier_base, 4, 64, options.classifier_upsample)


class ClassifierStage(StageMethod):
    stage = "classifier"
    halvings = 1

    @property
    def lr(self) -> float:
        return self.options.lr_classifier

    def build_network(self):
        return SliceClassifier(classifier_config(self.options))

    def network_entry(self):
        return {"name": "slice-classifier", "config": classifier_config(self.options).to_dict()}

    def select(self):
        y = self.bank.y
        self.pos, self.neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        if not len(self.pos) or not len(self.neg):
            raise WeakSegError("the slice labels need both tumour and tumour-free slices to train the classifier")
        return {**self.bank.counts()}

    def draw_batch(self, rng: np.random.Generator):
        """Half tumour, half tumour-free slices: the paper's class weights as balanced sampling."""
        half = self.options.batch // 2
        rows = np.concatenate([rng.choice(self.pos, half), rng.choice(self.neg, self.options.batch - half)])
        x = self.bank.x[rows]
        if self.options.augment:
            (x,) = flip_rows(rng, x)
        return {"images": torch.from_numpy(x), "labels": torch.from_numpy(self.bank.y[rows].astype(np.float32))}

    def loss(self, network, batch):
        loss = F.binary_cross_entropy_with_logits(network(batch["images"]).float(), batch["labels"])
        return loss, {"loss": loss.detach().item()}


@torch.no_grad()
def classify(network: SliceClassifier, images: np.ndarray, batch: int = 128) -> np.ndarray:
    """p = C(x) for (N, C, S, S) images, eval mode."""
    network.eval()
    out = [network.probability(torch.from_numpy(np.ascontiguousarray(images[i:i + batch]))).numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)
