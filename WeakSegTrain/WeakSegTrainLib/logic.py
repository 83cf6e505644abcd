"""WeakSegTrain Logic: annotate cases with weak labels, keep them in the store, train and register a model (no Qt).

Annotation state lives in the scene (a slice-label table per axis and a scribble
segmentation on the case's reference volume) while the user works, and in the case's
weak-label store on disk when saved, so work resumes from disk in a later session.
Training runs in the worker; the finished model is registered in the user models folder,
where WeakSegTumor / WeakSegOAR list it at once.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.io.case import find_case_files, load_case
from weakseg.labels import AXES, WeakLabelStore
from weakseg_mrml import region_masks
from weakseg_mrml import scribbles as scribble_io
from weakseg_mrml import slice_labels as slice_io
from weakseg_mrml.case_labels import finish_save, set_case_folder, unsaved_classes
from weakseg_mrml.catalog import ModelEntry, list_models, user_models_dir
from weakseg_mrml.logic_base import SceneLogic
from weakseg_mrml.runs import Run
from weakseg_mrml.volumes import add_volume_from_image

DEFAULT_CLASSES = ("WT", "TC", "ET")


def training_methods() -> dict:
    """Trainable methods, name → ``MethodInfo`` (title, help), from the engine's registry: a new method
    module appears here unchanged. Read on first use, not at import: the methods load PyTorch, which the
    module must not need before the dependency installer has run."""
    from weakseg.methods import methods

    return {name: info for name, info in methods().items() if info.trainable}


@dataclass
class CaseEntry:
    """A case folder in the list, with the annotation status read from its store."""

    case_id: str
    folder: Path
    status: str = "not started"
    kinds: list[str] = field(default_factory=list)
    has_full_labels: bool = False


@dataclass
class OpenCase:
    entry: CaseEntry
    volumes: dict
    reference: object
    store: WeakLabelStore
    tables: dict = field(default_factory=dict)
    scribbles: object = None
    masks: object = None
    """The core / FLAIR masks segmentation (EMReDL's weak labels), when the case has or gets one."""


class WeakSegTrainLogic(SceneLogic):
    def __init__(self, scene=None, worker_env: dict | None = None):
        SceneLogic.__init__(self, scene)
        self.worker_env = dict(worker_env or {})
        self.current: OpenCase | None = None

    # ------------------------------------------------------------------ case list

    @staticmethod
    def scan_cases(root: str | Path) -> list[CaseEntry]:
        """Case folders under ``root`` (BraTS naming) with their status; no image is read."""
        root = Path(root)
        if not root.is_dir():
            raise WeakSegError("cases folder not found", root)
        entries = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            files = find_case_files(folder)
            if not any(name in files for name in SEQUENCES):
                continue
            entry = CaseEntry(folder.name, folder, has_full_labels="seg" in files)
            if WeakLabelStore.exists(folder):
                store = WeakLabelStore.open(folder, create=False)
                entry.status, entry.kinds = store.status, store.kinds()
            entries.append(entry)
        return entries

    # ------------------------------------------------------------------ opening and saving a case

    def open_case(self, case: CaseEntry | str | Path, classes=DEFAULT_CLASSES) -> OpenCase:
        """Load the sequences as volumes and show the stored weak labels (resume); the previous case is closed.

        Check ``unsaved_classes()`` first: closing drops labels that were not saved.
        """
        entry = case if isinstance(case, CaseEntry) else CaseEntry(Path(case).name, Path(case))
        loaded = load_case(entry.folder)
        self.close_case()
        volumes = {name: add_volume_from_image(self.scene, image, f"{loaded.case_id}_{name}")
                   for name, image in loaded.images.items()}
        reference = volumes[loaded.reference]
        set_case_folder(reference, entry.folder)
        store = WeakLabelStore.open(entry.folder, grid=loaded.grid, case_id=loaded.case_id)
        store.add_classes(list(classes))
        opened = OpenCase(entry, volumes, reference, store)
        for axis in AXES:
            if store.known_classes("slices", axis) or axis == "axial":
                opened.tables[axis] = slice_io.table_from_store(self.scene, store, reference, axis)
        opened.scribbles = scribble_io.scribbles_from_store(self.scene, store, reference)
        opened.masks = region_masks.masks_from_store(self.scene, store, reference)
        self.current = opened
        return opened

    def close_case(self) -> None:
        """Remove the open case's volumes, slice-label tables and scribbles from the scene."""
        case, self.current = self.current, None
        if case is None:
            return
        tables = [slice_io.find_table(self.scene, case.reference, axis) for axis in AXES]  # the effect's too
        masks = region_masks.find_node(self.scene, case.reference)
        nodes = [*tables, *case.tables.values(), case.scribbles, case.masks, masks, *case.volumes.values()]
        for node in dict.fromkeys(nodes):
            if node is not None and node.GetScene() is self.scene:
                self.scene.RemoveNode(node)

    def unsaved_classes(self) -> list[str]:
        """Classes of the open case whose labels in the scene differ from its saved store."""
        case = self.current
        if case is None or case.reference.GetScene() is not self.scene:
            return []
        saved = WeakLabelStore.open(case.entry.folder, grid=case.store.grid) if WeakLabelStore.exists(case.entry.folder) \
            else case.store
        return unsaved_classes(self.scene, case.reference, saved)

    def _case(self) -> OpenCase:
        if self.current is None:
            raise WeakSegError("no case is open; pick one from the case list first")
        return self.current

    def table(self, axis: str = "axial"):
        case = self._case()
        if axis not in case.tables:
            case.tables[axis] = slice_io.get_or_create_table(self.scene, case.reference, axis,
                                                             case.store.grid.n_slices(axis))
        return case.tables[axis]

    def save_case(self, status: str | None = None, annotator: str | None = None) -> Path:
        """Copy the scene's slice labels and scribbles into the store and write it (atomically)."""
        case = self._case()
        path = finish_save(self.scene, case.reference, case.store, status=status, annotator=annotator)
        case.entry.status, case.entry.kinds = case.store.status, case.store.kinds()
        return path

    # ------------------------------------------------------------------ slice labels

    def slice_index(self, ras, axis: str = "axial") -> int:
        return slice_io.slice_index_at(self._case().reference, tuple(ras), axis)

    def mark_slice(self, cls: str, value: int, *, index: int | None = None, ras=None, axis: str = "axial") -> int:
        """Mark a slice present (1) / absent (0) / unknown (-1): the keyboard shortcuts while scrolling."""
        if index is None:
            if ras is None:
                raise WeakSegError("give the slice index or a point on the slice")
            index = self.slice_index(ras, axis)
        slice_io.set_label(self.table(axis), cls, index, value)
        return index

    def set_first_last(self, cls: str, first: int, last: int, axis: str = "axial") -> None:
        slice_io.set_range(self.table(axis), cls, min(first, last), max(first, last))

    def strip(self, cls: str, axis: str = "axial") -> list[tuple[int, int, str]]:
        return slice_io.strip(self.table(axis), cls)

    def slice_labels(self, cls: str, axis: str = "axial"):
        return slice_io.get_labels(self.table(axis), cls)

    # ------------------------------------------------------------------ scribbles

    def scribble_segments(self, cls: str) -> tuple[object, dict[str, str]]:
        """The scribble segmentation and the foreground/background segment IDs of ``cls`` to paint into."""
        case = self._case()
        if case.scribbles is None:
            case.scribbles = scribble_io.get_or_create_scribble_node(self.scene, case.reference)
        return case.scribbles, scribble_io.ensure_class_segments(case.scribbles, cls)

    # ------------------------------------------------------------------ core and FLAIR masks (EMReDL)

    def mask_segments(self, classes=region_masks.REQUIRED) -> tuple[object, dict[str, str]]:
        """The masks segmentation and the segment IDs of ``classes`` ('core', 'flair', 'necrosis') to paint into."""
        case = self._case()
        if case.masks is None:
            case.masks = region_masks.get_or_create_node(self.scene, case.reference)
        return case.masks, region_masks.ensure_segments(case.masks, classes)

    # ------------------------------------------------------------------ training

    @staticmethod
    def default_run_folder(model_id: str) -> Path:
        """Where a run keeps its checkpoints and curves: beside the user models folder, not in /tmp,
        so a run can be resumed after a restart."""
        return user_models_dir().parent / "runs" / model_id

    @staticmethod
    def new_model_id(method: str) -> str:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{method}-{stamp}"

    def training_config(self, cases: list[CaseEntry], *, method: str = "mixed", model_id: str | None = None,
                        out: str | Path, iterations: int = 1000, validation: list[str] | None = None,
                        device: str = "auto", options: dict | None = None, resume: bool = False,
                        weak: list[str] | None = None, **extra) -> dict:
        """A ``TrainConfig`` dict: cases with voxel labels train fully, the others on their weak labels.

        ``weak`` lists case ids to train on the weak labels saved in their store even though they
        have voxel labels (to use fewer full annotations, as in paper 001's experiments).
        """
        available = training_methods()
        if method not in available:
            raise WeakSegError(f"unknown method '{method}' (available: {', '.join(available)})")
        if not cases:
            raise WeakSegError("pick at least one case to train on")
        roots = {c.folder.parent.resolve() for c in cases}
        if len(roots) != 1:
            raise WeakSegError("training cases must lie in one cases folder")
        if model_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", model_id):
            raise WeakSegError(f"model id '{model_id}' may hold only letters, digits, '.', '_' and '-'")
        validation = list(validation or [])
        unlabelled = [c.case_id for c in cases if c.case_id in set(weak or ()) and "slices" not in c.kinds]
        if unlabelled:
            raise WeakSegError(f"case(s) {', '.join(unlabelled)} have no saved slice labels to train on")
        train_ids = [c.case_id for c in cases if c.case_id not in validation]
        return {"method": method, "dataset": str(roots.pop()), "out": str(out), "iterations": int(iterations),
                "train_cases": train_ids, "validation_cases": validation,
                "full_cases": [c.case_id for c in cases
                               if c.has_full_labels and c.case_id in train_ids and c.case_id not in set(weak or ())],
                "device": device, "model_id": model_id or self.new_model_id(method), "resume": resume,
                "method_options": dict(options or {}), **extra}

    def start_training(self, config: dict, *, register: bool = True, preset: str | None = "auto") -> Run:
        """Train in the background; ``run.finish()`` gives the registered model's catalogue entry.

        ``preset`` fills what ``config`` leaves unset (``auto``: the device's, as ``weakseg train`` does; None: the
        config as given); the worker logs the preset and the estimated time before the first iteration."""
        return Run.start("train", {"config": config, "register": register, "preset": preset}, self._registered,
                         env=self.worker_env)

    @staticmethod
    def saved_config(run_folder: str | Path) -> dict | None:
        """The configuration a run saved in its folder (``config.json``), to resume it in a later session."""
        from weakseg.io.jsonfile import read_json_object

        path = Path(run_folder) / "config.json"
        if not path.is_file():
            return None
        record = read_json_object(path, "training configuration")
        return dict(record["train"]) if isinstance(record.get("train"), dict) else record  # the engine's {train, method_resolved}

    def resume_training(self, config: dict, *, register: bool = True) -> Run:
        """Continue a cancelled run from its last checkpoint: the settings the run saved (its preset applied),
        with ``config``'s changes that do not change the result (more iterations, another device)."""
        from weakseg.training.config import RESUMABLE_CHANGES

        saved = self.saved_config(config["out"]) if config.get("out") else None
        changes = {k: v for k, v in config.items() if k in RESUMABLE_CHANGES}
        return self.start_training({**(saved or config), **changes, "resume": True}, register=register, preset=None)

    def _registered(self, result: dict) -> ModelEntry | dict:
        folder = result.get("registered")
        if not folder:
            return result
        for entry in list_models():
            if entry.folder.resolve() == Path(folder).resolve():
                return entry
        raise WeakSegError(f"trained model '{result.get('model_id')}' was registered but is not listed", folder)

    def train(self, config: dict, *, register: bool = True, timeout: float | None = None):
        """Blocking training (scripts and tests)."""
        run = self.start_training(config, register=register)
        run.wait(timeout)
        return run.finish()
