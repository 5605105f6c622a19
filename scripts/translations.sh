#!/bin/sh
# Refresh the message catalogues: extract every marked string (Python _()/N_()/ngettext and
# the console templates' _() and {% trans %}), merge it into each language's .po, and compile
# the .mo files the program loads (committed, so a fresh clone needs no build step).
# Usage: scripts/translations.sh [extract|compile]   (default: both)
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
LOCALE=src/postwarden/locale
POT=$LOCALE/postwarden.pot
if [ "${1:-all}" != compile ]; then
    "$PYBABEL" extract -F babel.cfg --no-location --sort-output --omit-header -w 100 \
        -k N_ -k ngettext:1,2 -o "$POT" src/postwarden
    "$PYBABEL" update -D postwarden -i "$POT" -d "$LOCALE" --no-fuzzy-matching --ignore-obsolete -w 100
fi
"$PYBABEL" compile -D postwarden -d "$LOCALE" --statistics
