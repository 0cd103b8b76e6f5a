#!/bin/sh
# Installs the Debian packages the project needs, when missing. As root it runs
# apt-get itself; otherwise it prints the exact command and fails.
set -eu
# libcurl4-openssl-dev: `chapter preview`'s server links Foundation's networking library
# statically when `chapter` was built so (`make build`), and that library needs libcurl's.
PACKAGES="libcmark-dev libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist libcurl4-openssl-dev $*"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "Installing:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
  echo "These Debian packages are missing:$missing" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
