#!/usr/bin/env bash
# `make run`: Postwarden on embedded defaults, no MTA needed.  The relay listens on
# 127.0.0.1:2525 and delivers into DATA_DIR/outbox, the HTTP check API on 127.0.0.1:8025; a
# new data dir gets demo data (made-up register, sent-mail history, sample messages).
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

if [[ ! -f "$DATA/settings.json" ]]; then
  "$PY" -m postwarden init --org-domain demo.gov.hk --partner-domain partner.org.hk
  "$PY" -m postwarden.demo
fi

cat <<HELP

Postwarden is starting: SMTP relay on $SMTP, HTTP check API on http://$HTTP
Delivered and released mail goes to $DATA/outbox/; held mail to the quarantine.

Send a message through it:
  python3 -c 'import smtplib; smtplib.SMTP("$SMTP_HOST", $SMTP_PORT).sendmail("alice@demo.gov.hk", ["bob@demo.gov.hk"], b"Subject: hello\r\n\r\nHello from Postwarden.\r\n")'
Try the samples (clean.eml is delivered, webmail.eml refused with 550, register.eml held):
  python3 -c 'import smtplib, sys; smtplib.SMTP("$SMTP_HOST", $SMTP_PORT).sendmail("alice@demo.gov.hk", [sys.argv[2]], open(sys.argv[1], "rb").read())' $DATA/demo/register.eml registry@partner.org.hk
Ask for a verdict only:
  curl --data-binary @$DATA/demo/webmail.eml 'http://$HTTP/api/v1/check?sender=alice@demo.gov.hk&rcpt=my.own.account@gmail.com'
See what happened:
  ls $DATA/outbox/;  $PY -m postwarden quarantine list

Stop with Ctrl-C.
HELP

exec "$PY" -m postwarden serve --smtp "$SMTP" --http "$HTTP" --outbox "$DATA/outbox"
