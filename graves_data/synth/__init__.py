"""Generators of corpora in the real release formats, for demos and tests."""
