#!/usr/bin/env bash
# Test-only dependencies: a Python virtual environment at .tools/pyenv with aiosmtpd (the SMTP sink,
# tests/support/smtp_sink.py) and dkimpy (DKIM verification, tests/support/dkim_verify.py).
# Idempotent and quick when already installed; safe to run from several test processes at once.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/pyenv"
py="$venv/bin/python"

ready() { [ -x "$py" ] && "$py" -c 'import aiosmtpd, dkim' >/dev/null 2>&1; }

if ready; then
  echo "test-deps: $venv ready (aiosmtpd, dkimpy)"
  exit 0
fi

mkdir -p "$tools"
# Serialise concurrent installers (parallel test binaries); re-check once we hold the lock.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$tools/.test-deps.lock"
  flock 9
  if ready; then
    echo "test-deps: $venv ready (installed by a concurrent run)"
    exit 0
  fi
fi

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "test-deps: $python not found; install Python 3 (e.g. apt-get install -y python3 python3-venv)" >&2
  exit 1
fi

make_venv() {
  rm -rf "$venv"
  echo "test-deps: creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
}

if ! make_venv; then
  echo "test-deps: 'python3 -m venv' failed; installing python3-venv with apt-get"
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  $sudo apt-get install -y python3-venv || { $sudo apt-get update && $sudo apt-get install -y python3-venv; }
  make_venv
fi

echo "test-deps: pip install aiosmtpd dkimpy"
"$venv/bin/pip" install -q --disable-pip-version-check aiosmtpd dkimpy

if ! ready; then
  echo "test-deps: $venv still cannot import aiosmtpd and dkim" >&2
  exit 1
fi
echo "test-deps: $venv ready (aiosmtpd, dkimpy)"
