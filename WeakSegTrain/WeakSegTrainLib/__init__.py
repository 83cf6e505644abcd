"""WeakSegTrain's Qt-free parts (importable on slicer-core for tests)."""
