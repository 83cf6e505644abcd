"""Train the shipped ``default-oar`` model from label-map sources only (no patient data).

    OMP_NUM_THREADS=1 nice -n 10 python experiments/oar_train_default.py --out ../oar-default-run \
        --iterations 9000 --threads 1   # about 70 min on one core; resumable with --resume

Sources: the 20 SynthSeg training label maps, the SPL-PNL atlas label map and 8 phantom heads
(seeds 1-8; held-out phantoms for docs/results/oar.md use seeds >= 101). Images are painted
from the label maps for every patch (weakseg.phantom.synth_contrast). The model folder is
written to OUT/model; copy it to weakseg/models/default-oar after checking docs/results/oar.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from weakseg.training.config import TrainConfig

DESCRIPTION = (
    "Organs at risk of cranial radiotherapy on T1 or T1c MRI, skull on or off (thesis ch. 4 method: multi-head 2D "
    "U-Net, partial labels, three-orientation vote, anatomical post-processing). Learned only from synthetic images "
    "painted with random T1-like or random contrast, blur, resolution, bias and noise from label maps: the 20 SynthSeg "
    "whole-head training label maps (brainstem, hippocampi, optic chiasm, brain), the SPL-PNL atlas label map (eyes, "
    "optic nerves, chiasm, pituitary, brainstem, hippocampi) and 8 procedural phantom heads (every organ, the only "
    "source of lenses); a quarter of the patches skull-stripped. No patient image was used.")

OPTIONS = {
    "base": 16, "depth": 4, "patch": 96, "batch": 10,
    "containment": ["eye/lens", "lens/eye", "brainstem/brain", "hippocampus/brain"],
    "sources": {"root": "", "phantoms": 8},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "oar"))
    parser.add_argument("--iterations", type=int, default=9000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--phantoms", type=int, default=8)
    parser.add_argument("--synthseg", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--spatial", metavar="JSON", help="patch deformation (OARConfig.spatial), e.g. '{}' for "
                        "weakseg.methods.oar.warp's defaults; off when not given (default-oar 0.2.0 was trained so)")
    parser.add_argument("--tie-jitter", action="store_true",
                        help="labels sharing a T1 prior share its jitter (OARConfig.tie_jitter; 0.2.0: off)")
    args = parser.parse_args()
    options = {**OPTIONS, "sources": {"root": args.shared, "phantoms": args.phantoms, "synthseg": args.synthseg}}
    description = DESCRIPTION
    if args.spatial is not None:
        import json

        options["spatial"] = json.loads(args.spatial)
        description += " Each patch randomly rotated, scaled and elastically deformed (SynthSeg's spatial recipe)."
    if args.tie_jitter:
        options["tie_jitter"] = True
        description += " In T1-prior draws, labels of one tissue (one prior value) share their intensity jitter."
    config = TrainConfig(method="oar", dataset="", out=args.out, iterations=args.iterations, seed=0,
                         checkpoint_every=250, log_every=25, device="cpu", threads=args.threads,
                         model_id="default-oar", resume=args.resume, progress_bar=False,
                         description=description, method_options=options)
    from weakseg.methods.oar import train

    print(train(config))


if __name__ == "__main__":
    main()
