#!/usr/bin/env bash
# Installs the Debian packages minicnn needs (only those missing; safe to run again).
# Usage: scripts/install_deps.sh [extra-package ...]
set -euo pipefail

packages=(build-essential cmake pkg-config ccache libeigen3-dev libfmt-dev libcli11-dev nlohmann-json3-dev
          zlib1g-dev libstb-dev libdnnl-dev libonnx-dev libprotobuf-dev libgtest-dev libbenchmark-dev gnuplot-nox "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: run as root or install sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
