#!/bin/sh
# Installs exactly the Debian 12 packages sam-engine needs (build, tests, fuzzing, reference harness, benchmark baselines).
set -eu
PACKAGES="cmake g++ make pkg-config
  libxtensor-dev libopenblas-dev libstb-dev libjpeg62-turbo-dev catch2
  nlohmann-json3-dev libcli11-dev libfmt-dev libzip-dev zlib1g-dev libssl-dev libdnnl-dev
  clang libclang-rt-14-dev
  python3 python3-pip python3-numpy python3-pil python3-torch python3-torchvision
  python3-opencv python3-yaml python3-requests python3-psutil
  libcpp-httplib-dev chromium
  slurm-wlm munge"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install_deps: all packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install_deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing > /dev/null
