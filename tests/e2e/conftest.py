"""Shared helpers for the end-to-end tests: where the binaries and the shared corpus are."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("HALYARD_BIN_DIR", ROOT / "build" / "bin"))
SHARED = pathlib.Path(os.environ.get("HALYARD_SHARED_DIR", ROOT.parent / "shared"))


def run_halyard(*args, timeout=60):
    """Runs build/bin/halyard with args; returns the CompletedProcess (text mode)."""
    return subprocess.run([str(BIN / "halyard"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def halyard():
    return run_halyard
