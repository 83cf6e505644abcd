"""Paper 004 ch. 4: organs at risk from partial labels, made anatomically consistent afterwards.

A 2D U-Net with one binary head per class (``weakseg.nn.multihead_unet2d``) learns from labels
that are positive, negative or *unknown* per class and image (clinical RT-Structs contour only
some organs); the class-balanced partial loss ignores unknown pixels; every batch holds one
patch centred on each class and two on the brain, cut in a random orientation. One network is
shared by the three orientations (the thesis trains three); at inference it runs axially,
coronally and sagittally and a per-class majority vote is post-processed by the §4.4 rules
(``weakseg.oar.rules``). Spec: docs/methods/thesis-2d3d-oar.md §4 and §5.4-5.5.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.methods import MethodInfo
from weakseg.methods.oar.config import OARConfig
from weakseg.methods.oar.loss import partial_loss
from weakseg.methods.oar.sampling import centre_in, cut, patch_labels
from weakseg.methods.oar.warp import margin_size, spatial_config, warp_patch
from weakseg.nn.multihead_unet2d import MultiHeadUNet2D, MultiHeadUNet2DConfig
from weakseg.oar.classes import CLASSES, ORGANS
from weakseg.phantom.label_sources import OARVolume

METHOD = MethodInfo(
    name="oar", title="Organs at risk from partial labels (thesis ch. 4)",
    help="Multi-head 2D U-Net for brain organs at risk, trained from RT-Structs that contour only some organs; "
         "three-orientation vote and anatomical post-processing",
    sequences=(), label_kinds=("full",), target="oar")

OAR_LICENCE = ("Trained without patient data: synthetic images painted from the SynthSeg training label maps "
               "(Apache-2.0), the SPL-PNL atlas label map (3D Slicer License) and procedural phantom heads. "
               "Research use; not a medical device.")


class OARMethod:
    """What the training engine drives: network, class-centred batches, partial loss, optimiser, card."""

    name = "oar"

    def __init__(self, config: OARConfig):
        from weakseg.phantom.synth_contrast import SynthConfig

        self.config = config
        self.volumes: list[OARVolume] = []
        self.by_class: dict[str, list[int]] = {}
        self.rules = config.rules()
        self.synth = SynthConfig(prior_fraction=config.synth_prior_fraction, strip_fraction=config.strip_fraction,
                                 tie_jitter=config.tie_jitter)
        self.weights = torch.tensor(config.target_weight)
        self.spatial = spatial_config(config.spatial) if config.spatial is not None else None

    def data_config(self):
        return None

    def build_network(self) -> nn.Module:
        return MultiHeadUNet2D(self.network_config())

    def network_config(self) -> MultiHeadUNet2DConfig:
        return MultiHeadUNet2DConfig(1, len(CLASSES), self.config.base, self.config.depth)

    batches_per_iteration = 1

    def prepare(self, volumes: list[OARVolume], network: nn.Module) -> dict[str, int]:
        """Lists I_c of the volumes that annotate each class; every class must be annotated somewhere."""
        if not volumes:
            raise WeakSegError("no training cases")
        self.volumes = volumes
        self.by_class = {name: [i for i, v in enumerate(volumes) if v.boxes.get(name)] for name in CLASSES}
        missing = [name for name, items in self.by_class.items() if not items]
        if missing:
            raise WeakSegError(f"no training case contours {', '.join(missing)}; the model cannot learn "
                               f"{'it' if len(missing) == 1 else 'them'} (add cases or sources that do)")
        return {f"cases_{name.replace(' ', '_')}": len(items) for name, items in self.by_class.items()}

    # --- batches -------------------------------------------------------------------------------------
    def _patch(self, volume: OARVolume, centre: np.ndarray, orientation: str, rng: np.random.Generator):
        from weakseg.phantom.synth_contrast import augment_real, draw_lut, paint

        size = self.config.patch
        side = margin_size(size, self.spatial) if self.spatial is not None else size
        bits = cut(volume.bits, centre, orientation, side)
        if volume.image is not None:
            image = cut(volume.image, centre, orientation, side).astype(np.float32)
            if self.spatial is not None:
                image, (bits,) = warp_patch(image, [bits], size, self.spatial, rng)
            image = augment_real(image, rng, self.synth)
        else:
            strip = None
            counts = volume.counts
            if volume.strip is not None and rng.random() < self.synth.strip_fraction:
                strip = cut(volume.strip, centre, orientation, side)
                counts = np.bincount(volume.gen[volume.strip], minlength=len(volume.prior)).astype(np.float64) \
                    if volume.strip_counts is None else volume.strip_counts
                volume.strip_counts = counts
            gen = cut(volume.gen, centre, orientation, side)
            if self.spatial is not None:
                arrays = [gen, bits] if strip is None else [gen, bits, strip.astype(np.uint8)]
                _, warped = warp_patch(None, arrays, size, self.spatial, rng)
                gen, bits = warped[0], warped[1]
                strip = None if strip is None else warped[2].astype(bool)
            lut = draw_lut(volume.prior, counts, rng, self.synth)
            image = paint(gen, lut, rng, self.synth, strip)
            if strip is not None:  # a skull-stripped image shows no eye or nerve: nothing outside is positive
                bits = np.where(strip, bits, 0).astype(np.uint8)
        labels = patch_labels(bits, volume.known, self.rules)
        if orientation != "sagittal" and rng.random() < self.config.flip:
            image, labels = image[:, ::-1], labels[:, :, ::-1]  # classes are side-free: a mirrored head is a head
        return image, labels

    def draw_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """M patches: one centred on each class in turn, the rest on the brain, each in a random orientation."""
        cfg = self.config
        centred = list(CLASSES) + ["brain"] * (cfg.batch - len(CLASSES))
        images = np.zeros((cfg.batch, 1, cfg.patch, cfg.patch), np.float32)
        labels = np.zeros((cfg.batch, len(CLASSES), cfg.patch, cfg.patch), np.int8)
        for b, name in enumerate(centred):
            pool = self.by_class[name]
            volume = self.volumes[pool[int(rng.integers(0, len(pool)))]]
            orientation = cfg.orientations[int(rng.integers(0, len(cfg.orientations)))]
            images[b, 0], labels[b] = self._patch(volume, centre_in(volume, name, rng), orientation, rng)
        return {"images": torch.from_numpy(images), "labels": torch.from_numpy(labels)}

    # --- loss and optimiser ----------------------------------------------------------------------------
    def loss(self, network: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        logits, _ = network(batch["images"])
        loss = partial_loss(logits, batch["labels"], self.weights.to(logits.device))
        return loss, {"loss": loss.detach().item()}

    def build_optimizer(self, network: nn.Module, iterations: int):
        from weakseg.methods.mixed import FunctionSchedule

        optimizer = torch.optim.AdamW(network.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        return optimizer, FunctionSchedule(self.config.lr, iterations, cosine=self.config.schedule == "cosine")

    # --- validation and card -------------------------------------------------------------------------------
    def validate(self, network: nn.Module, cases: list, device: torch.device) -> dict[str, float]:
        return {}

    def labels(self):
        from weakseg.models.card import LabelEntry

        return [LabelEntry(o.name, o.value, o.value, o.color, o.snomed_code, o.snomed_meaning) for o in ORGANS]

    def model_card(self, model_id: str, training: dict[str, Any], metrics: dict[str, Any], licence: str,
                   description: str):
        from weakseg.models.card import ModelCard

        cfg = self.config
        return ModelCard(
            id=model_id, method="oar", network={"name": "multihead_unet2d", "config": self.network_config().to_dict()},
            sequences=[], labels=self.labels(),
            preprocessing={"normalisation": "percentile 99.5 of the foreground (weakseg.oar.intensity)",
                           "spacing_mm": [1.0, 1.0, 1.0], "orientation": "LPS"},
            expects={"skull_stripped": False, "max_foreground_ml": 1e9, "spacing_tolerance_mm": 0.3},
            inference={"mode": "oar", "inputs": list(cfg.inputs), "orientations": list(cfg.orientations),
                       "classes": list(CLASSES), "vote": "per class, at least 2 of 3 orientations",
                       "postprocess": "weakseg.oar.rules (thesis §4.4)"},
            training=training, metrics=metrics, licence=licence or OAR_LICENCE, description=description)


def oar_trainer(config, method: OARMethod, progress=None, cancel=None):
    """The shared ``Trainer``, reading OAR volumes (RT-Struct stores and/or label-map sources) as its data."""
    from weakseg.training.engine import Trainer

    class OARTrainer(Trainer):
        def load_data(self):
            return load_volumes(self.config, self.method.config), []

    return OARTrainer(config, method, progress, cancel)


def load_volumes(config, options: OARConfig) -> list[OARVolume]:
    """Training volumes: the dataset's case folders (RT-Struct stores), then the configured label-map sources."""
    from weakseg.methods.oar.data import store_volume
    from weakseg.phantom.label_sources import shared_sources
    from weakseg.training.data import dataset_folders
    from weakseg.training.engine import select_cases

    volumes: list[OARVolume] = []
    if config.dataset:
        folders, _ = select_cases(config, dataset_folders(config.dataset))
        volumes = [store_volume(folder, options.inputs) for folder in folders]
    if options.sources:
        src = dict(options.sources)
        root = Path(src.get("root", ""))
        if src.get("root") and not root.is_dir():
            raise WeakSegError("label-map source folder not found", root)
        volumes += shared_sources(root if src.get("root") else None, phantoms=int(src.get("phantoms", 0)),
                                  synthseg=src.get("synthseg"), spl=bool(src.get("spl", True)))
    if not volumes:
        raise WeakSegError("no training data: give a dataset of RT-Struct-imported cases and/or label-map sources")
    return volumes


def build_method(options: dict[str, Any]) -> OARMethod:
    return OARMethod(OARConfig.from_dict(options))


def train(config, progress=None, cancel: threading.Event | None = None) -> Path:
    """Train the OAR method (``config.method_options`` → ``OARConfig``); returns the model folder."""
    return oar_trainer(config, build_method(config.method_options), progress, cancel).run()


def input_warnings(case, model) -> list[str]:
    """Said before segmenting the case as it was loaded: slices too thick for the small organs."""
    from weakseg.methods.oar.data import model_input
    from weakseg.oar.checks import slice_thickness_warning

    name = model_input(case, model.card)
    return slice_thickness_warning(case.images[name].GetSpacing(), name)


def predict(case, model, config=None, progress=None, cancel: threading.Event | None = None, case_id: str | None = None):
    """Three-orientation vote and the §4.4 rules, through the shared slice engine (``weakseg.methods.oar.case_prediction``)."""
    from weakseg.methods.oar.case_prediction import segment_oar

    return segment_oar(case, model, config, progress=progress, cancel=cancel, case_id=case_id)
