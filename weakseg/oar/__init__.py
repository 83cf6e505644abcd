"""Organs at risk (thesis ch. 4): classes, anatomical post-processing rules, label-map sources.

Each post-processing rule of §4.4 is a small function in ``weakseg.oar.rules``; the classes,
their sides, TG-263 names and containment rules are in ``weakseg.oar.classes``.
"""
