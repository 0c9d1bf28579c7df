"""Shared helpers for the end-to-end tests: where the binaries and the shared corpus are."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("HALYARD_BIN_DIR", ROOT / "build" / "bin"))
# The external corpus (conformance cases, the seed, docs) is not part of the repository: one
# setting for every test, C++ and Python alike, the environment variable HALYARD_SHARED_DIR, and
# when unset `shared` next to the repository. Tests that need it call require_shared().
SHARED = pathlib.Path(os.environ.get("HALYARD_SHARED_DIR") or ROOT.parent / "shared")


def require_shared():
    """Skips the calling test when the external corpus is absent (a clone of the repository
    alone must pass); returns its path otherwise."""
    if not SHARED.is_dir():
        pytest.skip("external corpus not found at %s: set HALYARD_SHARED_DIR to the directory "
                    "holding conformance/, seed/ and docs/ (default: ../shared beside the "
                    "repository)" % SHARED)
    return SHARED


def run_halyard(*args, timeout=60):
    """Runs build/bin/halyard with args; returns the CompletedProcess (text mode)."""
    return subprocess.run([str(BIN / "halyard"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def halyard():
    return run_halyard
