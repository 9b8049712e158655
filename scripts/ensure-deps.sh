#!/usr/bin/env bash
# Installs what building and testing need, on a fresh Debian machine, and is
# quick when everything is already there. Used by every Makefile target.
set -euo pipefail

need_apt=()
# postgresql: the metadata tests start a throwaway server (initdb in a temp dir).
for pkg in libhdf5-dev pkg-config libturbojpeg0-dev libjpeg62-turbo-dev postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ensure-deps: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" - <<'PYEOF' 2>/dev/null
import importlib.util, sys
mods = ["numpy", "pyarrow", "torch", "torchvision", "h5py", "pandas", "matplotlib", "tqdm",
        "pytest", "ruff", "hatchling", "chromadb", "mypy", "ray", "scipy"]
missing = [m for m in mods if importlib.util.find_spec(m) is None]
sys.exit(1 if missing else 0)
PYEOF
then
  echo "ensure-deps: pip install (python packages)"
  "$PY" -m pip install -q numpy pyarrow torch torchvision h5py pandas matplotlib tqdm pytest ruff hatchling chromadb mypy ray scipy
fi

command -v go >/dev/null || { echo "ensure-deps: Go is required (https://go.dev/dl)" >&2; exit 1; }
go mod download
