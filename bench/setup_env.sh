#!/usr/bin/env bash
# Installs the bench-only anchors (called by `make bench`, never by `make test`), quick when present.
#
#   bench/.venv       python3 -m venv --system-site-packages: the project's test environment (stock
#                     Pillow, torch, torchvision, chromadb, h5py) plus NVIDIA DALI (CPU pipelines),
#                     simplejpeg, PyTurboJPEG and psutil. The benchmarks run in it.
#   bench/.venv-simd  the same, plus pillow-simd, which replaces Pillow: only the "torchvision +
#                     pillow-simd" arm runs in it, so every other arm keeps the stock Pillow.
#   bench/.venv-ffcv  the same, plus FFCV (`pip install ffcv`, built from source against Debian's OpenCV
#                     and libturbojpeg, as its README asks). bench/.ffcv-build.log keeps the build log;
#                     BENCHMARKS.md quotes the reason when it does not build.
set -uo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

# Build dependencies of pillow-simd and (the attempt at) FFCV.
need=()
for pkg in libjpeg62-turbo-dev libturbojpeg0-dev zlib1g-dev libpng-dev pkg-config python3-dev libopencv-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

have() { [ -x "$1/bin/python" ] && "$1/bin/python" -c "$2" >/dev/null 2>&1; }

# libturbojpeg here is 2.1 (Debian 12); PyTurboJPEG 2.x needs the TurboJPEG 3 API, so 1.x.
if ! have .venv "import nvidia.dali, simplejpeg, turbojpeg, psutil"; then
  echo "bench: installing bench/.venv (DALI, simplejpeg, PyTurboJPEG, psutil)"
  "$PY" -m venv --system-site-packages .venv || exit 1
  .venv/bin/python -m pip install -q nvidia-dali-cuda120 simplejpeg "PyTurboJPEG<2" psutil || exit 1
fi
if ! have .venv-simd "import PIL; assert 'post' in PIL.__version__"; then
  echo "bench: installing bench/.venv-simd (pillow-simd, built with AVX2)"
  "$PY" -m venv --system-site-packages .venv-simd || exit 1
  # pillow-simd's own instructions: build from source with -mavx2.
  CC="cc -mavx2" .venv-simd/bin/python -m pip install -q --no-cache-dir --no-binary pillow-simd pillow-simd psutil \
    || exit 1
fi
if ! have .venv-ffcv "import ffcv.loader" && ! grep -q FFCV_FAILED .ffcv-build.log 2>/dev/null; then
  echo "bench: trying pip install ffcv (log: bench/.ffcv-build.log)"
  rm -rf .venv-ffcv
  "$PY" -m venv --system-site-packages .venv-ffcv
  if timeout 900 .venv-ffcv/bin/python -m pip install ffcv >.ffcv-build.log 2>&1 \
     && .venv-ffcv/bin/python -c "import ffcv" >>.ffcv-build.log 2>&1; then
    echo "FFCV_OK" >>.ffcv-build.log
  else
    echo "FFCV_FAILED rc=$?" >>.ffcv-build.log
  fi
fi
exit 0
