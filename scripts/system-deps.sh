#!/usr/bin/env bash
# Debian packages the project uses as real parts.
#
#   scripts/system-deps.sh [test]   what the tests need: an MQTT broker (mosquitto), the offline
#                                   speech engine (espeak-ng) and its MP3 encoder (lame), and the
#                                   browser the UI tests drive (chromium)
#   scripts/system-deps.sh run      what the running local service needs: espeak-ng and lame
#
# Installs what is missing when run as root. Otherwise `test` says what to
# install and fails; `run` never stops the service from starting: it stays
# quiet and the service itself says, once at start-up, that offline speech is
# off (`python -m app first-run-hint`, which `make run` calls).
set -euo pipefail

mode="${1:-test}"
declare -A needs
case "$mode" in
  test) needs=([mosquitto]=mosquitto [espeak-ng]=espeak-ng [lame]=lame [chromium]=chromium) ;;
  run) needs=([espeak-ng]=espeak-ng [lame]=lame) ;;
  *) echo "usage: $0 [test|run]" >&2; exit 2 ;;
esac

missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${needs[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort)

if [ "$(id -u)" -ne 0 ]; then
  [ "$mode" = run ] && exit 0
  echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  exit 0
fi
echo "system-deps: apt-get could not install ${missing[*]}" >&2
[ "$mode" = run ] && exit 0
exit 1
