#!/usr/bin/env bash
# `make run`: Postwarden on embedded defaults, no MTA needed.  The relay listens on
# 127.0.0.1:2525 and delivers into DATA_DIR/outbox, the HTTP check API and the review console on
# 127.0.0.1:8025; a new data dir gets demo data (made-up register, sent-mail history, sample
# messages) and three console users whose generated passwords are printed once.
# Override with POSTWARDEN_DATA_DIR, POSTWARDEN_SMTP, POSTWARDEN_HTTP, PY.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
export POSTWARDEN_DATA_DIR=${POSTWARDEN_DATA_DIR:-./var}
DATA=$POSTWARDEN_DATA_DIR
SMTP=${POSTWARDEN_SMTP:-127.0.0.1:2525}
HTTP=${POSTWARDEN_HTTP:-127.0.0.1:8025}
SMTP_HOST=${SMTP%:*}
SMTP_PORT=${SMTP##*:}

CONSOLE="http://$HTTP/"
API_TOKEN="TOKEN"  # an existing data dir: make one with '$PY -m postwarden token add NAME --scope check'

USERS="Console users: '$PY -m postwarden user list'; set a password with
  $PY -m postwarden user passwd NAME"
if [[ ! -f "$DATA/settings.json" ]]; then
  "$PY" -m postwarden init --org-domain demo.gov.hk --partner-domain partner.org.hk
  "$PY" -m postwarden.demo
  # A check API token for the demo (shown once, stored only as a hash).
  API_TOKEN=$("$PY" -m postwarden token add demo --scope check:detail --json |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  # One of each role. Passwords are generated here, handed over on standard input (never on
  # a command line, where ps would show them), stored only as argon2 hashes, and shown once.
  USERS="Demo console users (passwords are shown only now; change them with
  '$PY -m postwarden user passwd NAME'):"
  read -r -a PASSWORDS < <("$PY" -c 'import secrets; print(*(secrets.token_urlsafe(12) for _ in range(3)))')
  i=0
  for spec in admin:admin reviewer:reviewer privacy:privacy-officer; do
    name=${spec%%:*} role=${spec#*:}
    printf '%s\n' "${PASSWORDS[$i]}" |
      "$PY" -m postwarden user add "$name" --role "$role" --email "$name@demo.gov.hk" \
        --password-stdin >/dev/null
    USERS+=$(printf '\n  %-9s %-16s password: %s' "$name" "$role" "${PASSWORDS[$i]}")
    i=$((i + 1))
  done
  USERS+="
Held mail is released by someone other than its sender; a hold for register data (such as
register.eml below) only by the privacy officer."
fi

cat <<HELP

Postwarden is starting: SMTP relay on $SMTP, HTTP check API on http://$HTTP
Review console: $CONSOLE  (sign in at ${CONSOLE}login)
$USERS

Delivered and released mail goes to the outbox folder $DATA/outbox/ (one .eml and its
envelope .json per message); held mail waits in the encrypted quarantine.

Send a message through it:
  python3 -c 'import smtplib; smtplib.SMTP("$SMTP_HOST", $SMTP_PORT).sendmail("alice@demo.gov.hk", ["bob@demo.gov.hk"], b"Subject: hello\r\n\r\nHello from Postwarden.\r\n")'
Try the samples (clean.eml is delivered, webmail.eml refused with 550, register.eml held):
  python3 -c 'import smtplib, sys; smtplib.SMTP("$SMTP_HOST", $SMTP_PORT).sendmail("alice@demo.gov.hk", [sys.argv[2]], open(sys.argv[1], "rb").read())' $DATA/demo/register.eml registry@partner.org.hk
  then sign in to the console as privacy, open the held message and release it: it lands in
  the outbox.
Ask for a verdict only:
  curl -H 'Authorization: Bearer $API_TOKEN' --data-binary @$DATA/demo/webmail.eml 'http://$HTTP/api/v1/check?sender=alice@demo.gov.hk&rcpt=my.own.account@gmail.com'
See what happened:
  ls $DATA/outbox/;  $PY -m postwarden quarantine list

Stop with Ctrl-C.
HELP

exec "$PY" -m postwarden serve --smtp "$SMTP" --http "$HTTP" --outbox "$DATA/outbox"
