"""A real SMTP server for tests (aiosmtpd, Debian's python3-aiosmtpd) on loopback.

Every accepted mail is written to OUT_DIR as <n>.eml, with its attachments decoded by Python's own
email parser as <n>.part<i> and a <n>.json describing them. While OUT_DIR/REFUSE exists, every
recipient is refused with the reply written in it (e.g. "550 5.7.1 Relaying denied").
Prints "listening <port>" once ready. Usage: smtp_server.py OUT_DIR
"""
import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refuse = os.path.join(self.out_dir, "REFUSE")
        if os.path.exists(refuse):
            with open(refuse) as f:
                return f.read().strip() or "550 5.7.1 Refused"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        raw = envelope.original_content or envelope.content
        base = os.path.join(self.out_dir, str(n))
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        body = msg.get_body(preferencelist=("plain",))
        for i, part in enumerate(msg.iter_attachments()):
            data = part.get_payload(decode=True) or b""
            with open("%s.part%d" % (base, i), "wb") as f:
                f.write(data)
            parts.append({"filename": part.get_filename(), "contentType": part.get_content_type(), "bytes": len(data), "file": "%s.part%d" % (base, i)})
        meta = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "text": body.get_content() if body is not None else "",
            "attachments": parts,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 Message accepted for delivery"


async def serve(out_dir):
    handler = Handler(out_dir)
    loop = asyncio.get_running_loop()
    # Port 0: the kernel picks a free port (never a fixed one in tests).
    server = await loop.create_server(lambda: SMTP(handler, hostname="pbx-test-smtp"), "127.0.0.1", 0)
    print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    try:
        asyncio.run(serve(sys.argv[1]))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
