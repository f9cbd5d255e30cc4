#!/usr/bin/env bash
# Create .venv with everything Crystal Canvas needs; safe to re-run (does nothing when up to date).
#   TORCH_SPEC  torch requirement (default torch==2.13.0; on a CUDA host e.g. "torch==2.13.0 --index-url ...")
#   PYTHON      interpreter to build the venv from (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
VENV=.venv
STAMP=$VENV/.crystal-canvas-setup
WANT="$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16) $TORCH_SPEC"

if [[ -f $STAMP && "$(cat "$STAMP")" == "$WANT" ]]; then
    exit 0
fi
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
# torch first and pinned: left to the resolver, another package would pull a multi-GB CUDA build.
# shellcheck disable=SC2086
$PIP install $TORCH_SPEC
$PIP install -c constraints.txt -e ".[dev]"
# mattergen's wheel pins torch 2.2.1+cu118, numpy<2 and lightning 2.0.6; it runs on the versions above.
$PIP install --no-deps mattergen==1.0.3
echo "$WANT" > "$STAMP"
echo "Crystal Canvas environment ready in $VENV"
