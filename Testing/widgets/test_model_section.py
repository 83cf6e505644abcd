"""The Model section's Python (``WeakSegQt/models.py``) run on the real panel widgets (PyQt5 + ``pythonqt`` layer).

With a model the user imported and the shipped one: both are listed by title, the card's
text is shown, Remove is offered only for the user's model and really deletes it. With no
model (WeakSeg OAR today): the list gives way to the "no model installed" message and the
panel is told there is no model. The device line says what this machine has.
"""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("PyQt5.uic")
pytest.importorskip("slicer_core")

import pythonqt  # noqa: E402
import render_panels  # noqa: E402


@pytest.fixture
def section(monkeypatch, tmp_path):
    shown = pythonqt.pythonqt_layer(monkeypatch)
    ui = render_panels.load(render_panels.PANELS["WeakSegTumor"])
    pythonqt.property_access(monkeypatch)
    models = pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegQt.models")
    user = tmp_path / "user-models"
    monkeypatch.setenv("WEAKSEG_MODELS", str(user))
    return models, ui, shown, user


def _user_model(user, shipped):
    folder = user / "brain-v2"
    shutil.copytree(shipped.folder, folder)
    card = json.loads((folder / "card.json").read_text())
    card["id"] = "brain-v2"
    if "card_sha256" in card:
        from weakseg.models.card import card_digest

        card["card_sha256"] = card_digest(card)
    (folder / "card.json").write_text(json.dumps(card))
    return f"Brain v2 {card['version']}"


def test_models_are_listed_described_and_the_users_own_can_be_removed(section):
    from WeakSegTumorLib.logic import WeakSegTumorLogic

    models, ui, shown, user = section
    logic = WeakSegTumorLogic()  # listing models needs no scene
    copied = _user_model(user, logic.models()[0])
    default_version = next(m.version for m in logic.models() if m.id == "default-tumour")
    chosen = []
    panel = models.ModelSection(ui, logic, on_changed=chosen.append)
    panel.refresh()
    shipped = [m.title() for m in logic.models() if m.id != "brain-v2"]
    assert f"Default tumour {default_version}" in shipped and not any("oar" in t.lower() for t in shipped)  # tumour models only
    assert [ui.modelComboBox.itemText(i) for i in range(ui.modelComboBox.count)] == [copied, *shipped]
    assert ui.noModelLabel.isHidden() and not ui.modelComboBox.isHidden()
    assert chosen[-1].id == "brain-v2"
    info = ui.modelInfoLabel.text
    assert "Expects: FLAIR, T1, T1 contrast, T2" in info and "Licence: " in info and "Trained on: BraTS" in info
    assert ui.removeModelButton.isEnabled()
    panel.select(str(logic.models()[1].folder))
    assert chosen[-1].id == "default-tumour" and not ui.removeModelButton.isEnabled()
    panel.select(str(user / "brain-v2"))
    panel.remove()
    assert shown["questions"] and copied in shown["questions"][-1]
    assert not (user / "brain-v2").exists() and not shown["errors"]
    assert ui.modelComboBox.count == len(shipped) and chosen[-1].id == "default-tumour"


def test_no_model_installed_says_so(section, tmp_path, monkeypatch):
    from WeakSegOARLib.logic import WeakSegOARLogic
    from weakseg_mrml import catalog

    models, ui, _shown, _user = section
    monkeypatch.setattr(catalog, "PACKAGE_MODELS", tmp_path / "no-shipped-models")  # an install without models
    chosen = []
    panel = models.ModelSection(ui, WeakSegOARLogic(), on_changed=chosen.append)
    panel.refresh()
    assert ui.modelComboBox.isHidden() and not ui.noModelLabel.isHidden()
    assert chosen == [None] and panel.current() is None and ui.modelInfoLabel.text == ""
    assert not ui.removeModelButton.isEnabled()


def test_device_line(section):
    import torch

    models, ui, _shown, _user = section
    models.ModelSection(ui, None, on_changed=lambda entry: None).show_devices()
    expected = "GPU: " if torch.cuda.is_available() else "CPU only (no GPU found)"
    assert ui.deviceStatusLabel.text.startswith(expected)


def test_import_menu_offers_zip_and_folder(section):
    models, ui, _shown, _user = section
    panel = models.ModelSection(ui, None, on_changed=lambda entry: None)
    assert ui.importModelButton.menu() is panel.menu
    assert [a.text() for a in panel.menu.actions()] == ["From a .zip file…", "From a folder…"]
