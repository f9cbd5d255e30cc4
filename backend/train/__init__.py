"""Train the embedded default MatterGen model (``python -m backend.train``).

The model is MatterGen itself -- ``mattergen``'s diffusion module, GemNet-T denoiser and loss -- built from
``model.yaml`` at a size that samples interactively on a CPU. Training uses Lightning exactly as
mattergen's own ``run.py`` does, minus the cluster settings (DDP, wandb) that do not apply here. The
result is written in the published layout (``config.yaml`` + ``checkpoints/last.ckpt``) with weights only,
so the shipped checkpoint loads through the same path as a downloaded one.
"""
