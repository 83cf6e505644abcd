"""Which MRI sequence a DICOM series is: FLAIR, T1, T1c, T2 or none of them, with a confidence.

Every signal the headers give is used, weakest last:

1. the SeriesDescription (ProtocolName when empty), read as words: vendor terms (GE BRAVO/
   SPGR/CUBE/PROPELLER, Siemens MPRAGE/TIRM/SPACE/BLADE/VIBE, Philips TFE/FFE/VIEW, Canon),
   German and French contrast terms (KM, nativ, avec/sans injection, gado), and *negation*:
   'PRE GAD', 'WO GAD', 'W/O CONTRAST', 'non contrast', 'ohne KM', 'sans injection' mean
   pre-contrast. Series that are none of the four (localizers, diffusion, perfusion, SWI and
   T2*, angiography, maps, subtractions, spectroscopy, BOLD) are excluded by name;
2. ImageType: DERIVED subtractions, projections and maps are excluded; other derived images
   (reformats) are kept with a lower confidence, so an original acquisition wins;
3. ContrastBolusAgent (0018,0010): a T1 series that names an agent is post-contrast, unless
   its description says otherwise (then the description wins and the confidence drops);
4. acquisition order: in a study where some series is known to be post-contrast, a T1 series
   with no contrast term acquired before the first of them is pre-contrast, one acquired after
   is post-contrast (gadolinium does not wash out within an exam);
5. TR/TE/TI, when the description names no weighting (long TI + long TR: FLAIR, etc.).

A series whose contrast terms contradict each other ('T1 W/O & W') is not assigned: it is
refused rather than guessed. :func:`choose_series` turns the per-series guesses into one
series per sequence and raises when two candidates are equally good.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from weakseg.errors import WeakSegError

STRONG, HEADER, PARAMS, WEAK = 0.9, 0.8, 0.6, 0.5
"""Confidence of a guess from the description, a header field, the timing parameters, a hint."""


class SeriesHeaders(Protocol):
    """What the classifier reads of a series (``weakseg.io.dicom.SeriesInfo`` has it)."""

    uid: str
    description: str
    protocol_name: str
    image_type: tuple[str, ...]
    contrast_agent: str
    acquired: float | None       # seconds since midnight of the study day (or None)
    repetition_time: float | None
    echo_time: float | None
    inversion_time: float | None


@dataclass
class SequenceGuess:
    """``sequence`` is None when the series is not one of the four (``why`` says what it is)."""

    sequence: str | None
    confidence: float
    why: list[str] = field(default_factory=list)
    contrast: str = "unknown"     # 'post', 'pre', 'conflict' or 'unknown' (from the description)

    def reason(self) -> str:
        return "; ".join(self.why)


# --- words -------------------------------------------------------------------------------------

_EXCLUDE = {
    "localizer": {"localizer", "localiser", "loc", "locator", "scout", "survey", "3pl", "3plane", "tripilot", "aahead",
                  "aascout", "autoalign", "smartbrain", "cal", "calibration", "asset", "refscan", "ref"},
    "diffusion": {"dwi", "dti", "adc", "eadc", "dadc", "trace", "tracew", "diff", "diffusion", "b1000", "b0", "fa",
                  "colfa", "exp", "tensor", "dki"},
    "perfusion": {"perf", "perfusion", "dsc", "dce", "asl", "pcasl", "pasl", "rcbv", "cbv", "cbf", "mtt", "ttp", "pwi"},
    "susceptibility (SWI/T2*)": {"swi", "swan", "swip", "t2star", "hemo", "etoile", "pha", "phase", "minip", "qsm",
                                 "mag"},
    "angiography": {"tof", "mra", "angio", "mrv", "venogram", "venography"},
    "a projection": {"mip", "mips"},
    "spectroscopy": {"svs", "csi", "mrs", "press", "steam", "spectro", "spectroscopy"},
    "functional MRI": {"bold", "fmri", "resting", "rest", "rsfmri"},
    "a subtraction": {"sub", "subtraction", "subtract", "subtracted"},
    "a parametric map": {"map", "maps", "mapping", "t1map", "t2map", "relaxometry", "qmap", "mdme", "inv1", "inv2"},
    "a special-purpose sequence": {"fiesta", "ciss", "drive", "cine", "myelo", "mrcp"},
    "a proton-density or STIR image": {"pd", "pdw", "pdfs", "stir", "dualecho"},
}
_EXCLUDE_WORD = {word: kind for kind, words in _EXCLUDE.items() for word in words}

_FLAIR = {"flair", "tirm", "darkfluid", "t2f", "irfse"}
_T1 = {"mprage", "mp2rage", "tfl", "spgr", "fspgr", "bravo", "vibe", "tfe", "flash", "fl3d", "fl2d", "uni", "lava",
       "starvibe", "radvibe", "quick3d", "volbrain"}
_T2 = {"tse", "fse", "frfse", "ssfse", "propeller", "blade", "space", "spc", "cube", "haste", "multivane", "mvxd",
       "turbo"}
_T1_TOKEN = re.compile(r"^(?:[sedr]?|3d|2d)t1(?:w|wi)?(?P<c>ce|c|gd|km|post)?$")
_T2_TOKEN = re.compile(r"^(?:[sedr]?|3d|2d)t2(?:w|wi)?$")

_CONTRAST = {"gd", "gad", "gado", "gadolinium", "contrast", "km", "kontrast", "kontrastmittel", "injection", "inj",
             "injecte", "injectee", "ce", "enhanced", "enh", "dotarem", "gadovist", "multihance", "magnevist",
             "prohance", "clariscan", "gadoterate", "gadobutrol", "cm"}
_POST = {"post", "postcontrast", "postgad", "postgd", "nach", "apres", "after", "delayed"}
_NEGATE_NEXT = {"non", "no", "ohne", "vor", "avant", "sans", "without", "wo", "pre", "un"}
_NEGATIVE = {"pre", "wo", "without", "nativ", "native", "unenhanced", "precontrast", "noncontrast", "sans",
             "nonenhanced", "pregad", "pregd", "plain", "vorkm"}


def _normalise(text: str) -> str:
    text = text.lower()
    text = re.sub(r"w\s*/\s*o\b", " wo ", text)               # W/O → without
    text = re.sub(r"\bw\s*/\s*(?=\w)", " with ", text)        # W/ CONTRAST → with contrast
    text = text.replace("t2*", " t2star ").replace("t2 *", " t2star ")
    text = re.sub(r"t2[\s_-]*star", " t2star ", text)
    text = re.sub(r"dark[\s_-]*fl(uid)?(?![a-z])|(?<![a-z])da[\s_-]*fl(?![a-z])", " darkfluid ", text)
    text = re.sub(r"mp[\s_-]+rage", " mprage ", text)
    text = re.sub(r"dual[\s_-]*echo", " dualecho ", text)
    text = re.sub(r"\+\s*(c|gd|gad|km|contrast|ce)\b|\b(c|gd|km)\s*\+|\+", " + ", text)
    text = re.sub(r"(?<=[a-z])(?=\d{3,})", " ", text)         # 'dwi1000' → 'dwi 1000'
    text = re.sub(r"[^a-z0-9+]+", " ", text)
    text = re.sub(r"\b(pre|post)(?=(gad|gd|contrast|km)\b)", r"\1 ", text)
    return text


def _tokens(text: str) -> list[str]:
    return _normalise(text).split()


def contrast_state(tokens: list[str]) -> str:
    """'post', 'pre', 'conflict' or 'unknown' from the words of a description."""
    positive = negative = False
    skip = False
    for i, word in enumerate(tokens):
        if skip:
            skip = False
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if word in _NEGATE_NEXT and (following in _CONTRAST or following in {"+", "injection", "inj"}):
            negative, skip = True, True
            continue
        if word in _NEGATIVE:
            negative = True
        elif word in _CONTRAST or word in _POST or word == "+":
            positive = True
        elif (m := _T1_TOKEN.match(word)) and m.group("c"):
            positive = True
    if positive and negative:
        return "conflict"
    return "post" if positive else "pre" if negative else "unknown"


def _excluded(tokens: list[str], image_type: tuple[str, ...]) -> str | None:
    words = set(tokens)
    if "gre" in words and ({"t2", "t2w"} & words):
        return "susceptibility (SWI/T2*)"
    if "ffe" in words and ({"t2", "t2w"} & words):
        return "susceptibility (SWI/T2*)"
    for word in tokens:
        kind = _EXCLUDE_WORD.get(word)
        if kind == "susceptibility (SWI/T2*)" and word == "mag" and "swi" not in words and "images" not in words:
            continue  # 'mag' alone is a magnitude image, not necessarily SWI
        if kind == "a subtraction" and word == "sub" and not ({"t1", "t1w", "post", "+"} & words or len(tokens) <= 2):
            continue
        if kind:
            return kind
    kinds = {v.upper() for v in image_type}
    derived_kinds = {"SUBTRACTION", "SUB", "SUBTRACT", "MIP", "MINIP", "ADC", "FA", "TRACEW", "DIFFUSION", "MAP",
                     "T1 MAP", "T2 MAP", "T1MAP", "T2MAP", "PROJECTION IMAGE", "PERFUSION", "CALC", "CBF", "CBV",
                     "EADC", "EXP", "SWI", "MNIP", "PHASE", "P"}
    if image_type and image_type[0].upper() == "DERIVED" and kinds & derived_kinds:
        return f"a derived image ({'/'.join(image_type)})"
    return None


def _weighting(tokens: list[str]) -> str | None:
    """'flair', 't1' or 't2' named by the words, or None."""
    words = set(tokens)
    t1 = any(_T1_TOKEN.match(w) for w in tokens) or bool(words & _T1)
    flair = bool(words & _FLAIR) or ({"fluid", "attenuated"} <= words)
    if flair and not t1:
        return "flair"
    if t1:
        return "t1"  # 'T1 FLAIR' (GE's T1 inversion recovery) is T1-weighted
    if any(_T2_TOKEN.match(w) for w in tokens) or words & _T2:
        return "t2"
    return None


def _from_parameters(series: SeriesHeaders) -> str | None:
    tr, te, ti = series.repetition_time, series.echo_time, series.inversion_time
    if tr is None or te is None:
        return None
    if ti is not None and ti >= 1400 and tr >= 4000:
        return "flair"
    if tr >= 2000 and te >= 70 and (ti is None or ti < 300):
        return "t2"
    if (tr <= 1000 and te <= 30 and (ti is None or ti < 300)) or (ti is not None and 500 <= ti <= 1300 and te <= 15):
        return "t1"
    return None


def classify(series: SeriesHeaders) -> SequenceGuess:
    """The sequence of one series from its own headers (study context comes in :func:`classify_study`)."""
    text = series.description or series.protocol_name or ""
    source = "description" if series.description else "protocol name"
    tokens = _tokens(text)
    excluded = _excluded(tokens, series.image_type)
    if excluded:
        return SequenceGuess(None, STRONG, [f"{source} '{text}' names {excluded}"])
    weighting = _weighting(tokens)
    contrast = contrast_state(tokens)
    why: list[str] = []
    confidence = STRONG
    if weighting is None:
        weighting = _from_parameters(series)
        if weighting is not None:
            confidence = PARAMS
            why.append(f"TR/TE/TI {series.repetition_time}/{series.echo_time}/{series.inversion_time} ms look {weighting}")
        elif contrast == "post":
            weighting, confidence = "t1", WEAK  # a post-contrast series without a weighting is a T1 almost always
            why.append(f"{source} '{text}' names contrast but no weighting")
        else:
            return SequenceGuess(None, STRONG, [f"{source} '{text}' names no FLAIR, T1 or T2 weighting"], contrast)
    else:
        why.append(f"{source} '{text}'")
        ti = series.inversion_time
        if weighting == "flair" and "tirm" in tokens and "darkfluid" not in tokens and ti is not None and ti < 400:
            return SequenceGuess(None, STRONG, why + [f"TIRM with inversion time {ti:g} ms is a STIR, not a FLAIR"],
                                 contrast)
        if weighting == "t2" and ti is not None and ti >= 1400:
            weighting = "flair"
            why.append(f"inversion time {ti:g} ms: fluid-attenuated")
    if series.image_type and series.image_type[0].upper() == "DERIVED":
        confidence = min(confidence, WEAK)
        why.append("derived image (reformat?)")
    if weighting != "t1":
        return SequenceGuess(weighting, confidence, why, contrast)
    if contrast == "conflict":
        return SequenceGuess(None, STRONG, why + ["contradictory contrast terms: pre- or post-contrast cannot be told"],
                             contrast)
    agent = _agent(series)
    if contrast == "post":
        return SequenceGuess("t1c", confidence, why + ([f"contrast agent '{agent}'"] if agent else []), contrast)
    if contrast == "pre":
        if agent:
            why.append(f"ContrastBolusAgent '{agent}' is set but the description says pre-contrast")
            confidence = min(confidence, HEADER - 0.1)
        return SequenceGuess("t1", confidence, why, contrast)
    if agent:
        return SequenceGuess("t1c", min(confidence, HEADER), why + [f"ContrastBolusAgent '{agent}'"], contrast)
    return SequenceGuess("t1", min(confidence, HEADER - 0.1), why + ["no contrast term or agent"], contrast)


def _agent(series: SeriesHeaders) -> str:
    agent = (series.contrast_agent or "").strip()
    return "" if agent.lower() in {"", "none", "no", "nein", "non", "n/a", "na", "-", "0"} else agent


def classify_study(series: Iterable[SeriesHeaders]) -> dict[str, SequenceGuess]:
    """Guesses for every series of one study, using acquisition order for T1 pre/post (item 4 above)."""
    items = list(series)
    guesses = {s.uid: classify(s) for s in items}
    known_post = [s.acquired for s in items if s.acquired is not None and
                  (guesses[s.uid].contrast == "post" or _agent(s)) and guesses[s.uid].contrast != "pre"]
    if not known_post:
        return guesses
    first_post = min(known_post)
    for s in items:
        guess = guesses[s.uid]
        if guess.sequence != "t1" or guess.contrast != "unknown" or s.acquired is None:
            continue
        if s.acquired > first_post:
            guesses[s.uid] = SequenceGuess("t1c", PARAMS, guess.why + ["acquired after a post-contrast series"],
                                           guess.contrast)
        else:
            guess.confidence = HEADER
            guess.why.append("acquired before the first post-contrast series")
    return guesses


@dataclass
class Candidate:
    """A series competing for a sequence: higher ``rank`` wins."""

    uid: str
    label: str
    guess: SequenceGuess
    rank: tuple


def choose_series(candidates: dict[str, list[Candidate]]) -> tuple[dict[str, str], list[str]]:
    """One series UID per sequence; warnings for the runners-up. Equal best candidates raise."""
    chosen: dict[str, str] = {}
    warnings: list[str] = []
    for sequence, found in candidates.items():
        found = sorted(found, key=lambda c: c.rank, reverse=True)
        best = found[0]
        if len(found) > 1 and found[1].rank == best.rank:
            tied = [c for c in found if c.rank == best.rank]
            raise WeakSegError(f"{len(tied)} series are equally likely {sequence}: "
                               + "; ".join(f"{c.label} ({c.guess.reason()})" for c in tied)
                               + f"; choose one with --{sequence} SERIES_UID")
        chosen[sequence] = best.uid
        if len(found) > 1:
            warnings.append(f"{sequence}: using {best.label}; also candidates: "
                            + "; ".join(c.label for c in found[1:]) + f" (choose with --{sequence} SERIES_UID)")
    return chosen, warnings


__all__ = ["SequenceGuess", "Candidate", "classify", "classify_study", "choose_series", "contrast_state"]
