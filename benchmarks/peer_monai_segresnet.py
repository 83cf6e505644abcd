"""Peer for the ``weakseg segment`` benchmark: MONAI's BraTS SegResNet inference pipeline.

Reproduces the shape of MONAI's ``brats_mri_segmentation`` bundle inference: load the four
sequences as channels, orient to RAS, resample to 1 mm, z-score each channel over non-zero
voxels, run ``SegResNet(blocks_down=[1,2,2,4], blocks_up=[1,1,1], init_filters=16,
in_channels=4, out_channels=3)`` by ``sliding_window_inference`` (roi 240x240x160, overlap 0.5,
sw_batch_size 1), sigmoid > 0.5, and write the TC/WT/ET masks as NIfTI.

The weights are randomly initialised (seeded): only time and memory are compared, and they do
not depend on the weight values. MONAI is a benchmark-only dependency; without it the script
prints "skipped" and exits 0.

    python benchmarks/peer_monai_segresnet.py CASE_DIR --out DIR [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path

ROI = (240, 240, 160)
OVERLAP = 0.5
# BraTS 2018 file suffixes in the bundle's channel order (t1c, t1, t2, flair).
_SUFFIXES = {"t1c": r"[_-](t1ce|t1c)", "t1": r"[_-](t1|t1n)", "t2": r"[_-](t2|t2w)", "flair": r"[_-](flair|t2f)"}


def sequence_files(case: Path) -> list[str]:
    """The four sequence files of a BraTS folder, in the bundle's channel order."""
    files = sorted(p for p in case.iterdir() if p.name.endswith((".nii.gz", ".nii")))
    out = []
    for name, pattern in _SUFFIXES.items():
        hits = [p for p in files if re.search(pattern + r"\.nii(\.gz)?$", p.name, re.I)]
        if len(hits) != 1:
            raise SystemExit(f"peer: {case}: expected one {name} file, found {len(hits)}")
        out.append(str(hits[0]))
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(case: Path, out: Path, device: str, seed: int = 0) -> dict:
    import torch
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import SegResNet
    from monai.transforms import (Compose, EnsureChannelFirstd, LoadImaged, NormalizeIntensityd,
                                  Orientationd, SaveImage, Spacingd)

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    pre = Compose([
        LoadImaged(keys="image", image_only=False),
        EnsureChannelFirstd(keys="image"),
        Orientationd(keys="image", axcodes="RAS"),
        Spacingd(keys="image", pixdim=(1.0, 1.0, 1.0), mode="bilinear"),
        NormalizeIntensityd(keys="image", nonzero=True, channel_wise=True),
    ])
    data = pre({"image": sequence_files(case)})
    image = data["image"]
    times["load_preprocess_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    torch.manual_seed(seed)
    model = SegResNet(blocks_down=[1, 2, 2, 4], blocks_up=[1, 1, 1], init_filters=16,
                      in_channels=4, out_channels=3, dropout_prob=0.2).to(dev).eval()
    with torch.inference_mode():
        batch = image.unsqueeze(0).to(dev)
        if dev.type == "cuda":
            with torch.autocast("cuda"):
                logits = sliding_window_inference(batch, ROI, 1, model, overlap=OVERLAP)
        else:
            logits = sliding_window_inference(batch, ROI, 1, model, overlap=OVERLAP)
        mask = (torch.sigmoid(logits.float()) > 0.5)[0].to(torch.uint8).cpu()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    times["inference_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    mask.meta = image.meta  # keep the input geometry for the writer
    saver = SaveImage(output_dir=str(out), output_postfix="segresnet", separate_folder=False, print_log=False,
                      output_dtype="uint8")
    saver(mask, meta_data=image.meta)
    times["write_s"] = time.perf_counter() - t2
    times["total_s"] = time.perf_counter() - t0
    return {"status": "ok", "device": device, "input_shape": list(image.shape), "times": times,
            "peak_rss_mb_self": round(peak_rss_mb(), 1),
            "gpu_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if dev.type == "cuda" else None,
            "weights": "random (seeded); time and memory do not depend on weight values"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path, help="BraTS case folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    try:
        import monai  # noqa: F401
    except ImportError:
        print("peer_monai_segresnet: skipped (MONAI is not installed; `pip install monai` to run the peer)")
        return 0
    result = run(args.case, args.out, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"MONAI SegResNet peer on {args.case.name} ({result['device']}): "
              + ", ".join(f"{k} {v:.2f}" for k, v in result["times"].items())
              + f", peak RSS {result['peak_rss_mb_self']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
