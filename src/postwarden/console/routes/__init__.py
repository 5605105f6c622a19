"""One router per resource: auth, dashboard, messages, confirm, exemptions, audit, policy, users."""
