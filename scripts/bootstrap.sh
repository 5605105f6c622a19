#!/usr/bin/env bash
# Set up everything `make test` / `make run` need on a fresh Debian 12 machine:
# system packages (when root and missing) and the project's virtualenv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

# System packages: libmilter-dev builds pymilter; postfix, postgresql and chromium are the
# real peers of the integration and browser tests.  Installed only when root and missing.
# squid, bind9-utils (named-checkzone) and nodejs check the webmail blocklist exports.
# tesseract-ocr with its English and Traditional Chinese models reads images and scans (OCR);
# libreoffice-writer-nogui writes the legacy Word .doc fixtures of the extractor tests;
# prometheus (and its promtool) checks the alert rules and scrapes the gateway in a test;
# systemd's systemd-analyze verifies the unit files in deploy/.
# libhyperscan-dev and python3-dev build the engine's compiled helpers (engine/compiled/_hsscan.c).
SYSTEM_PACKAGES=(libmilter-dev libhyperscan-dev python3-dev postfix postgresql chromium fonts-noto-cjk
  squid bind9-utils nodejs tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-tra
  libreoffice-writer-nogui prometheus systemd haproxy)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "bootstrap: installing ${missing[*]}"
    # Postfix asks a question at install time; answer it up front.
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string localhost" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: not root; missing system packages: ${missing[*]} (their tests will skip)" >&2
  fi
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11 or newer is required ($PYTHON is $("$PYTHON" -V 2>&1))" >&2
  exit 1
fi

stamp="$VENV/.installed"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
# Reinstall when the dependencies, their pinned versions or the compiled scan's source changed
# since the last install (the editable install builds the extension in place; nothing else
# rebuilds it).
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" || constraints.txt -nt "$stamp" \
  || src/postwarden/engine/compiled/_hsscan.c -nt "$stamp" ]]; then
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -c constraints.txt -e '.[dev]'
  touch "$stamp"
fi
