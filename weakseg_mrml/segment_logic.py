"""The Segment flow shared by WeakSegTumor and WeakSegOAR: inputs → worker → segmentation node → export.

Volumes are written from the scene to a job folder (geometry exact), the worker segments
them, and the result comes back as a segmentation node on the reference volume's grid,
under its study, with terminology and provenance — ready for the Segment Editor and for
DICOM export. Export writes what the node holds now, so the user's edits are exported.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path


from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.io.image import read_image, same_grid, write_image
from weakseg.sequence_subsets import best_member, words
from weakseg_mrml import ATTRIBUTE_PREFIX, ROLE_ATTRIBUTE
from weakseg_mrml.catalog import ModelEntry, list_models
from weakseg_mrml.logic_base import SceneLogic
from weakseg_mrml.provenance import Provenance, read_provenance
from weakseg_mrml.runs import Run
from weakseg_mrml.segmentation import SegmentSpec, labelmap_from_segmentation, segment_values, segmentation_from_labelmap
from weakseg_mrml.sequences import assign_sequences, scalar_volumes
from weakseg_mrml.tags import RT_TYPE_TAG, get_tag
from weakseg_mrml.terminology import for_label
from weakseg_mrml.volumes import image_from_volume

BRAIN_MASK_REFERENCE = "weaksegBrainMask"
"""Node reference from a result to the brain mask its preprocessing made (a segmentation of its own)."""
PREPROCESSING_MASK_ROLE = "PreprocessingMask"
BRAIN_MASK_SPEC = SegmentSpec("brain", 1, "Brain mask", (0.9, 0.8, 0.4), for_label("12738006", "Brain", tumour=False))

LOW_CONFIDENCE_ATTRIBUTE = ATTRIBUTE_PREFIX + "LowConfidenceSlices"
WARNINGS_ATTRIBUTE = ATTRIBUTE_PREFIX + "Warnings"
DICOM_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"
DEVICES = ("auto", "cpu", "cuda", "mps")  # as the worker's segment job
FLAG_MODES = ("keep", "drop", "mark")  # as the worker's export jobs (weakseg.methods.gan_seeds.review)


def model_inputs(model: ModelEntry) -> tuple[list[str], list[str]]:
    """(sequences the model needs, sequences of which it reads the first given).

    Tumour models need every card sequence; an organ-at-risk model reads one T1-weighted image
    (its card's ``inference.inputs``, e.g. T1c else T1) and lists no required sequence.
    """
    if model.sequences:
        return list(model.sequences), []
    try:
        card = json.loads((Path(model.folder) / "card.json").read_text(encoding="utf-8"))
        return [], [str(s) for s in (card.get("inference") or {}).get("inputs", [])]
    except (OSError, ValueError, AttributeError):
        return [], []


def family_fallback(inputs: dict, model: ModelEntry) -> tuple[ModelEntry, str | None]:
    """The model that will segment these inputs, and a note when it is not ``model``: a case lacking one of the
    model's sequences goes to the family member trained for what it has (the worker's rule,
    ``weakseg.models.family``), never zero-filled; with no member fitting, ``model`` itself (then refused)."""
    needed, _ = model_inputs(model)
    have = sorted(s for s in SEQUENCES if inputs.get(s) is not None)
    if not model.family or set(needed) <= set(have):
        return model, None
    members = [m for m in list_models() if m.family == model.family]
    member = best_member(((m, m.id, m.sequences) for m in members), have)
    if member is None:
        return model, None
    return member, (f"case has {words(have)}, model '{model.id}' needs {words(needed)}: segmenting with "
                    f"'{member.id}', trained for {words(member.sequences)} only")


def missing_inputs(inputs: dict, model: ModelEntry) -> list[str]:
    """Required sequences not assigned (none when a family member fits what is assigned); or, for a one-of
    model with none assigned, all its choices."""
    model = family_fallback(inputs, model)[0]
    needed, any_of = model_inputs(model)
    missing = [s for s in needed if inputs.get(s) is None]
    if any_of and not any(inputs.get(s) is not None for s in any_of):
        missing += any_of
    return missing


def inputs_words(model: ModelEntry) -> str:
    needed, any_of = model_inputs(model)
    return ", ".join(needed) if needed else f"one of {', '.join(any_of)} (the first given is used)"


class SegmentLogic(SceneLogic):
    """Logic of a segmentation panel; ``model_kind`` picks which model cards it offers."""

    model_kind = "tumour"

    def __init__(self, scene=None, worker_env: dict | None = None):
        SceneLogic.__init__(self, scene)
        self.worker_env = dict(worker_env or {})

    # ------------------------------------------------------------------ inputs

    def models(self) -> list[ModelEntry]:
        return list_models(self.model_kind)

    def model(self, model: ModelEntry | str) -> ModelEntry:
        if isinstance(model, ModelEntry):
            return model
        for entry in list_models():
            if model in (entry.id, entry.folder.name, str(entry.folder)):
                return entry
        raise WeakSegError(f"no model '{model}' (available: {', '.join(m.id for m in self.models()) or 'none'})")

    def volumes(self) -> list:
        return scalar_volumes(self.scene)

    def auto_assign(self, nodes=None) -> dict:
        """Sequence → volume, guessed from names and series descriptions (the user can override)."""
        return assign_sequences(self.volumes() if nodes is None else nodes)

    @staticmethod
    def reference_sequence(inputs: dict, model: ModelEntry) -> str:
        """The grid the result is written on: FLAIR when the model uses it, else its first sequence given."""
        needed, any_of = model_inputs(model)
        for name in ("flair", *needed, *any_of):
            if name in inputs and (name in needed or name in any_of):
                return name
        raise WeakSegError(f"model '{model.id}' needs {inputs_words(model)}; none is assigned")

    def check_inputs(self, inputs: dict, model: ModelEntry) -> None:
        unknown = sorted(set(inputs) - set(SEQUENCES))
        if unknown:
            raise WeakSegError(f"unknown sequence(s) {', '.join(unknown)}")
        missing = missing_inputs(inputs, model)
        if missing:
            raise WeakSegError(f"model '{model.id}' needs {inputs_words(model)}; assign a volume to "
                               f"{' or '.join(missing) if not model_inputs(model)[0] else ', '.join(missing)}")

    # ------------------------------------------------------------------ segmenting

    def start_segment(self, inputs: dict, model: ModelEntry | str, *, device: str = "auto", tta: bool = False,
                      preprocess: str = "auto", work_dir: str | Path | None = None, output_node=None, keep_outputs: str | Path | None = None) -> Run:
        """Write the inputs, start the worker and return the run (``run.finish()`` gives the node).

        The job folder holds copies of patient images: it is removed once the result is in the
        scene (``work_dir`` is where it is made, e.g. ``slicer.util.tempDirectory()``). The worker's
        files (labels, probabilities, review montage) are kept only in ``keep_outputs`` when given.
        ``output_node``: an existing segmentation to fill (its segments are replaced), else a new one.
        ``preprocess``: the engine's checks and preprocessing (``auto``, ``none`` or ``force``).
        """
        inputs = {k: v for k, v in inputs.items() if v is not None}
        entry, note = family_fallback(inputs, self.model(model))
        self.check_inputs(inputs, entry)
        if device not in DEVICES and not device.startswith("cuda:"):
            raise WeakSegError(f"unknown device '{device}' (expected {', '.join(DEVICES)})")
        work = Path(tempfile.mkdtemp(prefix="weakseg-segment-", dir=str(work_dir) if work_dir else None))
        files = {}
        needed, any_of = model_inputs(entry)
        for name in [*needed, *(s for s in any_of if s in inputs)]:
            files[name] = str(write_image(image_from_volume(inputs[name]), work / "inputs" / f"{name}.nrrd"))
        reference = self.reference_sequence(inputs, entry)
        out = Path(keep_outputs) if keep_outputs else work / "out"
        parameters = {"sequences": files, "model": str(entry.folder), "out": str(out), "device": device,
                      "tta": tta, "reference": reference, "preprocess": preprocess}
        volume = inputs[reference]
        notes = [note] if note else []  # the result says which model made it, and why that one

        def imported(result: dict):
            return self.import_result({**result, "warnings": notes + list(result.get("warnings", []))}, volume, output_node)

        return Run.start("segment", parameters, imported, env=self.worker_env, work_dir=work, scratch=[work])

    def segment(self, inputs: dict, model: ModelEntry | str, *, device: str = "auto", tta: bool = False,
                timeout: float | None = None, **options):
        """Blocking Segment (scripts and tests): the segmentation node (``options`` as ``start_segment``)."""
        run = self.start_segment(inputs, model, device=device, tta=tta, **options)
        run.wait(timeout)
        return run.finish()

    def import_result(self, result: dict, volume_node, output_node=None):
        """Worker result → segmentation node on ``volume_node``'s exact grid (``output_node`` refilled if given).

        No file path is stored on the node: the job's files are temporary, and a path saved
        with the scene would point at removed (or another patient's) data.
        """
        labels = read_image(result["outputs"]["labels"])
        reference = image_from_volume(volume_node)
        if not same_grid(labels, reference):
            raise WeakSegError(f"result is not on the grid of '{volume_node.GetName()}'", result["outputs"]["labels"])
        labels.CopyInformation(reference)  # NIfTI stores geometry in single precision; snap to the node's
        specs = [SegmentSpec.from_label(label, tumour=bool(result.get("tumour", True))) for label in result["labels"]]
        model = result["model"]
        provenance = Provenance(model["id"], model.get("version", ""), model.get("sha256", ""),
                                result.get("parameters", {}), device=str(result.get("provenance", {}).get("device", "")))
        if output_node is not None:
            output_node.GetSegmentation().RemoveAllSegments()
        node = segmentation_from_labelmap(self.scene, labels, specs, name=f"{volume_node.GetName()} {model['id']}",
                                          volume_node=volume_node, provenance=provenance, node=output_node)
        node.SetAttribute(LOW_CONFIDENCE_ATTRIBUTE, json.dumps(result.get("low_confidence_slices", [])))
        node.SetAttribute(WARNINGS_ATTRIBUTE, json.dumps(list(result.get("warnings", []))))
        self.import_brain_mask(node, result["outputs"].get("brain"), volume_node)
        return node

    def import_brain_mask(self, result_node, path: str | None, volume_node):
        """The preprocessing's brain mask as an outlined segment in a segmentation of its own, referenced by
        the result (so it is never exported with the tumour); a re-run without one removes the old mask."""
        old = result_node.GetNodeReference(BRAIN_MASK_REFERENCE)
        if path is None:
            if old is not None:
                result_node.RemoveNodeReferenceIDs(BRAIN_MASK_REFERENCE)
                self.scene.RemoveNode(old)
            return None
        mask = read_image(path)
        reference = image_from_volume(volume_node)
        if not same_grid(mask, reference):
            raise WeakSegError(f"brain mask is not on the grid of '{volume_node.GetName()}'", path)
        mask.CopyInformation(reference)
        if old is not None:
            old.GetSegmentation().RemoveAllSegments()
        node = segmentation_from_labelmap(self.scene, mask, [BRAIN_MASK_SPEC], name=f"{volume_node.GetName()} brain mask",
                                          volume_node=volume_node, mark_for_review=False, node=old)
        node.SetAttribute(ROLE_ATTRIBUTE, PREPROCESSING_MASK_ROLE)
        display = node.GetDisplayNode()
        display.SetOpacity2DFill(0.0)  # an outline over the images, not a fill that hides them
        display.SetVisibility3D(False)
        result_node.SetNodeReferenceID(BRAIN_MASK_REFERENCE, node.GetID())
        return node

    @staticmethod
    def brain_mask(result_node):
        """The brain-mask segmentation the result's preprocessing made, or None."""
        return result_node.GetNodeReference(BRAIN_MASK_REFERENCE)

    @staticmethod
    def result_warnings(segmentation_node) -> list[str]:
        """What the worker warned about while making this result (e.g. a sequence resampled onto the FLAIR grid)."""
        text = segmentation_node.GetAttribute(WARNINGS_ATTRIBUTE)
        return json.loads(text) if text else []

    # ------------------------------------------------------------------ review

    @staticmethod
    def low_confidence_slices(segmentation_node) -> list[dict]:
        text = segmentation_node.GetAttribute(LOW_CONFIDENCE_ATTRIBUTE)
        return json.loads(text) if text else []

    @staticmethod
    def slice_point(segmentation_node, item: dict) -> tuple[float, float, float]:
        """RAS point a slice view jumps to for a low-confidence slice (centre of the reference volume in-plane)."""
        role = segmentation_node.GetReferenceImageGeometryReferenceRole()
        volume = segmentation_node.GetNodeReference(role)
        if volume is None:
            raise WeakSegError(f"segmentation '{segmentation_node.GetName()}' has no reference volume")
        image = image_from_volume(volume)
        centre = image.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in image.GetSize()])
        return (-centre[0], -centre[1], float(item["z_mm"]))

    # ------------------------------------------------------------------ export

    def export_inputs(self, segmentation_node, work: Path) -> tuple[Path, dict[int, str]]:
        """The node as it is now (edits included) as a labelmap file, and value → ROI name."""
        role = segmentation_node.GetReferenceImageGeometryReferenceRole()
        volume = segmentation_node.GetNodeReference(role)
        if volume is None:
            raise WeakSegError(f"segmentation '{segmentation_node.GetName()}' has no reference volume to export on")
        values = segment_values(segmentation_node)
        labels = labelmap_from_segmentation(segmentation_node, image_from_volume(volume), values)
        path = write_image(labels, work / "labels.nii.gz")
        segmentation = segmentation_node.GetSegmentation()
        names: dict[int, str | dict] = {}
        for segment_id, value in values.items():
            segment = segmentation.GetSegment(segment_id)
            rt_type = get_tag(segment, RT_TYPE_TAG)  # e.g. the infiltration's CTV
            names[value] = {"name": segment.GetName(), "type": rt_type} if rt_type is not None else segment.GetName()
        return path, names

    @staticmethod
    def flagged_slices(segmentation_node) -> list[int]:
        """Canonical axial slices the model flagged as untrustworthy (GAN seeds' difference score), from the result."""
        return sorted(int(item["slice"]) for item in SegmentLogic.low_confidence_slices(segmentation_node)
                      if item.get("flagged") is True)

    def start_export(self, segmentation_node, reference_dir: str | Path, out_path: str | Path,
                     kind: str = "rtstruct", work_dir: str | Path | None = None, flagged: str = "mark") -> Run:
        """Export the node as it is now; ``flagged``: the model's flagged slices are kept, dropped from the
        structures, or kept with the series marked 'needs review' (the default, as ``weakseg export-rtstruct``)."""
        if kind not in ("rtstruct", "seg"):
            raise WeakSegError(f"unknown export kind '{kind}' (expected rtstruct or seg)")
        if flagged not in FLAG_MODES:
            raise WeakSegError(f"unknown flagged-slice mode '{flagged}' (expected {', '.join(FLAG_MODES)})")
        work = Path(tempfile.mkdtemp(prefix="weakseg-export-", dir=str(work_dir) if work_dir else None))
        labels, names = self.export_inputs(segmentation_node, work)
        provenance = read_provenance(segmentation_node)
        parameters = {"labels": str(labels), "reference_dir": str(reference_dir), "out": str(out_path),
                      "names": {str(k): v for k, v in names.items()},
                      "model_name": f"WeakSeg {provenance.model_id}" if provenance else "WeakSeg",
                      "model_version": provenance.model_version if provenance else "",
                      "flagged": flagged, "flagged_slices": self.flagged_slices(segmentation_node)}
        return Run.start(f"export-{kind}", parameters, lambda result: Path(result["path"]), env=self.worker_env,
                         work_dir=work, scratch=[work])

    @staticmethod
    def reference_instance_uids(segmentation_node) -> list[str]:
        """SOP instance UIDs of the DICOM series the segmentation's reference volume was loaded from ([] if none).

        Slicer's DICOM plugins store them on the volume's subject-hierarchy item
        (``DICOM.instanceUIDs``, space-separated).
        """
        from slicer import vtkMRMLSubjectHierarchyNode

        volume = segmentation_node.GetNodeReference(segmentation_node.GetReferenceImageGeometryReferenceRole())
        if volume is None:
            return []
        sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(volume.GetScene())
        item = sh.GetItemByDataNode(volume) if sh is not None else 0
        text = sh.GetItemAttribute(item, DICOM_UIDS_ATTRIBUTE) if item else ""
        text = text or volume.GetAttribute(DICOM_UIDS_ATTRIBUTE) or ""
        return text.split()

    @staticmethod
    def reference_folder(files: list[str | Path], work: str | Path) -> Path:
        """A folder holding exactly the reference series (links to the database's files; copies if links fail)."""
        import shutil

        folder = Path(work) / "reference"
        folder.mkdir(parents=True, exist_ok=True)
        for index, source in enumerate(files):
            target = folder / f"{index:05d}.dcm"
            try:
                target.symlink_to(Path(source).resolve())
            except OSError:
                shutil.copy2(source, target)
        return folder

    def export(self, segmentation_node, reference_dir, out_path, kind: str = "rtstruct",
               timeout: float | None = None, flagged: str = "mark") -> Path:
        run = self.start_export(segmentation_node, reference_dir, out_path, kind, flagged=flagged)
        run.wait(timeout)
        return run.finish()
