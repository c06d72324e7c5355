#!/usr/bin/env bash
# Installs the Debian packages hmt needs to build and test, only those missing.
# Needs root (or sudo). The CUDA toolkit headers are expected at /usr/local/cuda.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
      libcjson-dev liburing-dev libunwind-dev libxxhash-dev libzip-dev fio python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "hmt: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
if [ ! -f /usr/local/cuda/include/cuda.h ] && [ -z "${CUDAToolkit_ROOT:-}" ]; then
  echo "hmt: CUDA toolkit headers not found at /usr/local/cuda (set CUDAToolkit_ROOT)" >&2
  exit 1
fi
