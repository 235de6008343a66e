"""Defaults of smcase's settings, in a module light enough for the command line to read at start-up."""

from __future__ import annotations

DEFAULT_DB = "sqlite:///smcase.db"
"""The register used when neither ``--db`` nor ``SMCASE_DB`` names one: ``smcase.db`` in the current folder."""
