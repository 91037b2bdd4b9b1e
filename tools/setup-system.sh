#!/usr/bin/env bash
# Debian packages the project needs: the Japanese font for certificates, poppler for looking at
# PDFs, and the PC/SC stack (pcscd, the vpcd virtual reader, and what pyscard builds against).
# Installs only what is missing; uses sudo when not root.
set -euo pipefail
PKGS=(fonts-ipaexfont-mincho fonts-ipaexfont-gothic poppler-utils pcscd vsmartcard-vpcd swig libpcsclite-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
