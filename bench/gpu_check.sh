#!/bin/bash
# The engine's GPU checks on a lent machine, in one go: its tests (the CUDA-graph one runs only there) and the
# engine benchmark with 8 and 64 replicas. The machine's Python has torch but not the rest: .whl/ holds
# x86-64 CPython 3.12 wheels of ase, mace-torch 0.3.16, e3nn 0.4.4, matscipy, spglib and mace-torch's own
# needs (configargparse, gitpython, gitdb, smmap, lmdb, orjson, prettytable, wcwidth, torch-ema) and vesin-torch
# 0.6.2 (the neighbour search), fetched
# with `pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 ...`.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOOLKIT_OFFLINE=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch, e3nn, mace; print('torch', torch.__version__, 'e3nn', e3nn.__version__, 'mace', mace.__version__)"
python3 -m pytest -q -p no:cacheprovider tests/test_engine.py -k "not non_mace and not run_md_puts" 2>&1 | tee "$OUT/tests.log" | tail -15
python3 bench/md_engine.py --device cuda --steps 200 2>&1 | grep -v -i cuequivariance | tee "$OUT/bench_8.log"
python3 bench/md_engine.py --device cuda --steps 100 --replicas 64 2>&1 | grep -v -i cuequivariance | tee "$OUT/bench_64.log"
