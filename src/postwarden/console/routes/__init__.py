"""One router per resource: auth, dashboard, messages, confirm, exemptions, audit, policy, users.

Handlers are plain functions: FastAPI runs them in its thread pool, so argon2 checks, chain
walks and re-inspection never stall the event loop that ``postwarden serve`` shares with the
SMTP relay.
"""
