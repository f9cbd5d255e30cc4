"""Shared fixtures: the shipped default model, loaded once per session, on CPU."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from backend.runtime import configure_threads  # noqa: E402

configure_threads()


@pytest.fixture(scope="session")
def default_model():
    from backend.sampling.models import load_model

    return load_model("default", device="cpu")
