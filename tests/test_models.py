"""Model loading: published layout, the project's own training output, the hub when offline."""

import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from backend.paths import ASSETS
from backend.sampling.generate import generate
from backend.sampling.model_info import ModelUnavailable
from backend.sampling.models import load_model, resolve
from backend.sampling.request import GenerationRequest

PUBLISHED_CONFIGS = ASSETS / "mattergen" / "published_configs"


def _save_published_layout(config_name: str, folder: Path, extra: dict) -> Path:
    """Build a published config with random weights and save it as the hub lays checkpoints out."""
    from hydra.utils import instantiate

    from backend.thirdparty.patches import install

    install()
    config = OmegaConf.load(PUBLISHED_CONFIGS / config_name / "config.yaml")
    module = instantiate(config.lightning_module)
    (folder / "checkpoints").mkdir(parents=True)
    shutil.copy(PUBLISHED_CONFIGS / config_name / "config.yaml", folder / "config.yaml")
    torch.save({"state_dict": module.state_dict(), "epoch": 0, **extra}, folder / "checkpoints" / "last.ckpt")
    return folder


@pytest.mark.slow
def test_published_layout_loads_through_the_hub_path(tmp_path):
    folder = _save_published_layout("chemical_system", tmp_path / "chemical_system", {"global_step": 1})
    model = load_model(str(folder), device="cpu")
    assert model.info.source == "local"
    assert "chemical_system" in model.info.conditions
    assert model.info.parameters > 40_000_000
    request = GenerationRequest(n=1, atoms=4, steps=2, seed=0, chemical_system=("Li", "O"), guidance=2.0)
    result = generate(model, request)
    assert len(result.structures) == 1


def test_full_lightning_checkpoint_needs_pickle_and_is_allowed_for_local_folders(tmp_path):
    folder = _save_published_layout("mp_20_base", tmp_path / "mp20", {"hyper_parameters": OmegaConf.create({"a": 1})})
    model = load_model(str(folder), device="cpu")
    assert model.info.conditions == ()


def test_broken_folders_give_one_clear_message(tmp_path):
    with pytest.raises(ModelUnavailable, match="no config.yaml"):
        load_model(str(tmp_path), device="cpu")
    (tmp_path / "config.yaml").write_text("lightning_module: {}\n")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailable):
        load_model(str(tmp_path), device="cpu")


def test_published_name_offline_fails_fast_with_advice(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="pass that folder"):
        resolve("dft_band_gap")
    with pytest.raises(ModelUnavailable, match="unknown model"):
        resolve("no_such_model")


def test_training_script_output_loads_and_samples(tmp_path):
    from backend.train.loop import train
    from backend.train.settings import TrainSettings

    settings = TrainSettings(
        out=tmp_path / "model",
        work_dir=tmp_path / "work",
        hidden=16,
        small=8,
        blocks=1,
        neighbors=8,
        batch_size=16,
        max_epochs=1,
        limit_structures=24,
        accelerator="cpu",
    )
    folder = train(settings)
    assert (folder / "config.yaml").is_file() and (folder / "checkpoints" / "last.ckpt").is_file()
    checkpoint = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert set(checkpoint) == {"state_dict"}
    model = load_model(str(folder), device="cpu")
    assert model.info.conditions == ("chemical_system",)
    result = generate(model, GenerationRequest(n=2, atoms=3, steps=3, seed=0, chemical_system=("Na", "Cl")))
    assert len(result.structures) == 2


def test_default_model_is_shipped_small_and_conditioned(default_model):
    ckpt = ASSETS / "models" / "default" / "checkpoints" / "last.ckpt"
    assert ckpt.stat().st_size < 30 * 2**20
    assert default_model.info.source == "embedded"
    assert default_model.info.conditions == ("chemical_system",)
