"""Email replies over SMTP, with In-Reply-To and References so the customer's mail client
threads them, and the customer's next answer threads back into the conversation."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from service.domain.ports import ChannelRejected, ChannelUnavailable, Media, Reply


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

    def _message(self, reply: Reply) -> tuple[EmailMessage, str, str]:
        """The message, its one recipient and its Message-ID.

        :raise ChannelRejected: a header would break the message (a line break, anything
            else than one To address): the domain cleans them, this is the last guard.
        """
        message = EmailMessage()  # policy.default: a header value with CR/LF is an error
        try:
            message["From"] = self.sender
            message["To"] = reply.to
            recipients = message["To"].addresses
            if len(recipients) != 1 or recipients[0].addr_spec.count("@") != 1:
                raise ValueError(f"{len(recipients)} addresses in To")
            message["Subject"] = reply.subject or "Re:"
            message_id = make_msgid(domain=self.sender.rsplit("@", 1)[-1].strip(">"))
            message["Message-ID"] = message_id
            if reply.in_reply_to:
                message["In-Reply-To"] = reply.in_reply_to
            if reply.references:
                message["References"] = " ".join(reply.references)
            message.set_content(reply.text or "")
            if reply.media is not None:
                _attach(message, reply.media)
        except (ValueError, TypeError, IndexError) as exc:
            raise ChannelRejected(f"SMTP: not a sendable message: {exc}") from None
        return message, recipients[0].addr_spec, message_id

    def send(self, reply: Reply) -> str:
        message, recipient, message_id = self._message(reply)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                # the envelope names the one recipient, whatever the headers say
                smtp.send_message(message, to_addrs=[recipient])
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPAuthenticationError,
        ) as exc:
            raise ChannelRejected(f"SMTP: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelUnavailable(f"SMTP: {type(exc).__name__}") from exc
        return message_id


def _attach(message: EmailMessage, media: Media) -> None:
    """The agent's file as an attachment, read from its temporary file."""
    if not media.path:
        raise ValueError("the file to attach is missing")
    maintype, _, subtype = media.content_type.partition("/")
    with open(media.path, "rb") as handle:
        message.add_attachment(
            handle.read(),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=media.name,
        )
