#!/usr/bin/env bash
# Download, on a machine with network, the wheels that scripts/gpu_check.sh installs on a CUDA machine without one.
# That machine has its own Python 3.12 with torch, torchvision, numpy, scipy, scikit-learn, matplotlib, jinja2,
# typer, rich, PyYAML, typing-extensions and pytest; of scrutiny's dependencies it lacks pydantic and what pydantic
# needs. The versions are those of this project's .venv at the time of writing; .whl/ is ignored by git.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
ls .whl
