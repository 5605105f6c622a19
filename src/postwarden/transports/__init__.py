"""Front ends: Postfix milter, SMTP relay, HTTP check API: build, call the gateway, reply."""
