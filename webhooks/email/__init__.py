"""Inbound email providers (Mailgun, Postmark, SendGrid) and email threading."""
