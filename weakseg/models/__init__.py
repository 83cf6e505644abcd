"""Model registry and cards: ``load_model('default')`` gives the shipped tumour model, SHA-256 verified."""

from weakseg.models.card import BRATS_LICENCE, CARD_NAME, WEIGHTS_NAME, LabelEntry, ModelCard, brats_labels
from weakseg.models.registry import LoadedModel, find_model, list_models, load_model, save_model, sha256_file, user_models_dir

__all__ = ["BRATS_LICENCE", "CARD_NAME", "WEIGHTS_NAME", "LabelEntry", "LoadedModel", "ModelCard", "brats_labels",
           "find_model", "list_models", "load_model", "save_model", "sha256_file", "user_models_dir"]
