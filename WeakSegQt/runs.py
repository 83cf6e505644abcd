"""Shows a background Run in a panel: progress bar with time left, Cancel, a log box, "copy diagnostics".

The only Qt code around runs: a timer polls the run (no busy loop, no Qt objects touched
from the reader thread), and the panel's widgets show its state. Shared by the three
WeakSeg panels. The log box shows what the worker reported (warnings such as "T2 was
resampled onto the FLAIR grid") so the user sees them without opening diagnostics.
"""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

POLL_MS = 200


def stage_text(stage: str) -> str:
    """A worker stage key in words ('predict' → 'segmenting')."""
    return {
        "starting": _("starting"), "load": _("loading the images"), "preprocess": _("preparing the images"),
        "model": _("loading the model"), "predict": _("segmenting"), "write": _("writing the result"),
        "train": _("training"), "validation": _("validating"), "export": _("exporting"), "done": _("finishing"),
        "selftest": _("self-test"),
    }.get(stage, stage)


def status_text(run) -> str:
    """'segmenting 40 % — about 12 s left', translated."""
    text = stage_text(run.stage)
    if run.fraction is not None:
        text = _("{stage} {percent} %").format(stage=text, percent=f"{100 * run.fraction:.0f}")
    from weakseg_mrml.runs import format_eta

    eta = format_eta(run.eta_s)
    if eta and run.fraction not in (None, 1.0):
        text = _("{status} — about {eta} left").format(status=text, eta=eta)
    return text


class RunController:
    """Drive a panel's ``progressBar``, ``statusLabel``, ``cancelButton``, ``copyDiagnosticsButton``,
    ``checkInstallButton`` and ``logTextEdit`` for one run at a time (``ui``: the panel's ``childWidgetVariables``)."""

    def __init__(self, ui, on_update=None, on_finished=None):
        self.progress_bar = ui.progressBar
        self.status_label = ui.statusLabel
        self.cancel_button = ui.cancelButton
        self.diagnostics_button = ui.copyDiagnosticsButton
        self.log = ui.logTextEdit
        self.on_update = on_update
        self.on_finished = on_finished
        self.run = None
        self.on_done = None
        self.on_end = None
        self.description = ""
        self.scene_bound = True
        self.last_diagnostics = ""
        self._warnings_shown = 0
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.connect("timeout()", self._tick)
        self.cancel_button.connect("clicked()", self.cancel)
        self.diagnostics_button.connect("clicked()", self.copy_diagnostics)
        ui.checkInstallButton.connect("clicked()", self.check_installation)
        self._show_idle()

    @property
    def busy(self) -> bool:
        return self.run is not None

    def _show_idle(self) -> None:
        self.progress_bar.setVisible(False)
        self.cancel_button.setVisible(False)
        self.diagnostics_button.setVisible(bool(self.last_diagnostics))
        self.log.setVisible(bool(self.log.toPlainText()))  # no empty box reserved before anything happened

    def append_log(self, text: str) -> None:
        self.log.appendPlainText(text)
        self.log.setVisible(True)

    def start(self, run, description: str, on_done, *, scene_bound: bool = True, on_end=None) -> None:
        """Show ``run``; ``scene_bound`` runs (their result goes into the scene) are cancelled on Close Scene.

        ``on_end()`` is called however the run ends (done, failed, cancelled), e.g. to remove its files.
        """
        self.run, self.on_done, self.description, self.scene_bound = run, on_done, description, scene_bound
        self.on_end = on_end
        self._warnings_shown = 0
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)  # busy indicator until the first fraction arrives
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.diagnostics_button.setVisible(True)
        self.status_label.setText(_("{what}: starting").format(what=description))
        self.append_log(_("{what} started").format(what=description))
        self.timer.start()

    def _tick(self) -> None:
        run = self.run
        if run is None:
            self.timer.stop()
            return
        events = run.poll()
        if events:  # redraw only when the worker said something (a training chart is not rebuilt 5x a second)
            if run.fraction is not None:
                self.progress_bar.setRange(0, 1000)
                self.progress_bar.setValue(int(1000 * run.fraction))
            self.status_label.setText(_("{what}: {status}").format(what=self.description, status=status_text(run)))
            self._show_warnings(run)
            if self.on_update is not None:
                self.on_update(run)
        if not run.running:
            self._finish()

    def _show_warnings(self, run) -> None:
        for message in run.warnings[self._warnings_shown:]:
            self.append_log(_("Note: {message}").format(message=message))
        self._warnings_shown = len(run.warnings)

    def _ended(self) -> None:
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()
        if self.on_finished is not None:
            self.on_finished()

    def _finish(self) -> None:
        try:
            self._conclude()
        finally:
            self._ended()

    def _conclude(self) -> None:
        run, on_done = self.run, self.on_done
        self.timer.stop()
        try:
            value = run.finish()
        except Exception as exc:  # the worker's one-line message, with the details one click away
            self._show_warnings(run)
            self.last_diagnostics = run.diagnostics()
            self.run = None
            self._show_idle()
            message = _("{what} failed: {message}").format(what=self.description, message=str(exc))
            self.status_label.setText(message)
            self.append_log(message)
            slicer.util.errorDisplay(message, detailedText=self.last_diagnostics)
            return
        self._show_warnings(run)
        self.last_diagnostics = run.diagnostics()
        self.run = None
        self._show_idle()
        self.status_label.setText(_("{what}: done").format(what=self.description))
        description = self.description
        try:
            if on_done is not None:
                on_done(value)  # its own log lines come before "finished"
        finally:
            self.append_log(_("{what} finished").format(what=description))

    def cancel(self) -> None:
        if self.run is None:
            return
        self.run.cancel()
        self.last_diagnostics = self.run.diagnostics()
        self.run = None
        self.timer.stop()
        self._show_idle()
        self.status_label.setText(_("{what}: cancelled").format(what=self.description))
        self.append_log(_("{what} cancelled").format(what=self.description))
        self._ended()

    def check_installation(self) -> None:
        """Run the worker's ``selftest`` job and log the Python, packages and devices it sees."""
        from weakseg_mrml.devices import installation_report
        from weakseg_mrml.runs import Run

        if self.busy:
            return
        with slicer.util.tryWithErrorDisplay(_("The installation check could not start.")):
            run = Run.start("selftest", {"steps": 1})
            self.start(run, _("Installation check"),
                       lambda result: [self.append_log(line) for line in installation_report(result)], scene_bound=False)

    def copy_diagnostics(self) -> None:
        text = self.run.diagnostics() if self.run is not None else self.last_diagnostics
        qt.QApplication.clipboard().setText(text)
        slicer.util.showStatusMessage(_("Diagnostics copied to the clipboard"), 3000)

    def scene_closing(self) -> None:
        """Close Scene: stop a run whose result would land in the closed scene; a training keeps running."""
        if self.run is not None and self.scene_bound:
            self.cancel()

    def cleanup(self) -> None:
        """Module cleanup (application exit, reload): a job must not outlive its panel."""
        if self.run is not None:
            self.run.cancel()
            self.run = None
            on_end, self.on_end = self.on_end, None
            if on_end is not None:
                on_end()
        self.timer.stop()
