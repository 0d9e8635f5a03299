"""Email replies over SMTP, with In-Reply-To and References so the customer's mail client
threads them, and the customer's next answer threads back into the conversation."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from service.domain.ports import ChannelRejected, ChannelUnavailable, Reply


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def send(self, reply: Reply) -> str:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = reply.to
        message["Subject"] = reply.subject or "Re:"
        message_id = make_msgid(domain=self.sender.rsplit("@", 1)[-1].strip(">"))
        message["Message-ID"] = message_id
        if reply.in_reply_to:
            message["In-Reply-To"] = reply.in_reply_to
        if reply.references:
            message["References"] = " ".join(reply.references)
        message.set_content(reply.text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPAuthenticationError,
        ) as exc:
            raise ChannelRejected(f"SMTP: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelUnavailable(f"SMTP: {type(exc).__name__}") from exc
        return message_id
