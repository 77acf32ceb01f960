#!/usr/bin/env bash
# Debian packages the tests use as real parts: an MQTT broker, an offline
# speech engine and an MP3 encoder, and Chromium for the UI tests.
# Installs what is missing when run as root; otherwise says what to install.
set -euo pipefail

declare -A needs=([mosquitto]=mosquitto [espeak-ng]=espeak-ng [lame]=lame)
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${needs[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
