"""Install what a job needs, after asking, the way Slicer and its anchors do it.

- torch through the PyTorch extension's ``PyTorchUtilsLogic().installTorch`` (CUDA-matched
  wheel, as TotalSegmentator and SlicerNNUnet do), never by pip here;
- the rest with ``slicer.packaging.pip_ensure`` on Slicer 5.12 (it skips installs under
  ``--testing`` and prompts for a restart when an already-imported package changed), and on
  5.10 with ``slicer.util.pip_install`` given a list, followed by our own restart prompt.

Called when the user clicks a button, before any wait cursor, so the question is readable.
"""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

from weakseg import deps
from weakseg_mrml.dependencies import imported_distributions, requirements_for, split_torch

MIN_TORCH = ">=2.2"


def missing_for(job: str) -> list[deps.Problem]:
    """Every unsatisfied requirement of ``job`` (torch included)."""
    installable, foreign = deps.check(requirements_for(job), skip=())
    return installable + foreign


def _install_torch() -> bool:
    try:
        import PyTorchUtils
    except ImportError:
        slicer.util.errorDisplay(_("WeakSeg needs PyTorch. Install the \"PyTorch\" extension from the Extensions "
                                   "Manager, restart Slicer, then try again."))
        return False
    logic = PyTorchUtils.PyTorchUtilsLogic()
    try:
        logic.installTorch(askConfirmation=True, torchVersionRequirement=MIN_TORCH)
    except Exception as exc:  # PyTorchUtils raises its own errors for declined or failed installs
        slicer.util.errorDisplay(_("PyTorch could not be installed: {message}").format(message=str(exc)))
        return False
    return True


def _pip(requirements: list[str], job_title: str) -> bool:
    packaging = getattr(slicer, "packaging", None)
    if packaging is not None and hasattr(packaging, "pip_ensure"):  # Slicer 5.12
        from packaging.requirements import Requirement

        packaging.pip_ensure([Requirement(r) for r in requirements], requester="WeakSeg", prompt_restart=True)
        return True
    text = _("{job} needs these Python packages:").format(job=job_title) + "\n\n" + "\n".join(requirements)
    restart = imported_distributions(requirements)
    if restart:
        text += "\n\n" + _("{names} are in use by Slicer: after the update Slicer must restart.").format(
            names=", ".join(restart))
    if not slicer.util.confirmOkCancelDisplay(text + "\n\n" + _("Install them now? This can take a few minutes."),
                                              windowTitle=_("WeakSeg: install packages")):
        return False
    with slicer.util.WaitCursor():
        slicer.util.pip_install(requirements)  # a list: no shell quoting
    if restart and slicer.util.confirmYesNoDisplay(_("Restart Slicer now to use the updated packages?")):
        slicer.util.restart()
    return not restart


def ensure_dependencies(job: str, job_title: str) -> bool:
    """True when every package ``job`` needs is importable (installing after asking); False otherwise."""
    problems = missing_for(job)
    if not problems:
        return True
    torch, others = split_torch([p.requirement for p in problems])
    if torch is not None and not _install_torch():
        return False
    if others and not _pip(others, job_title):
        return False
    left = missing_for(job)
    if left:
        slicer.util.errorDisplay(_("{job} cannot run; still missing: {packages}").format(
            job=job_title, packages=", ".join(p.describe() for p in left)))
        return False
    qt.QApplication.processEvents()
    return True
