"""A small IMAP4rev1 server on 127.0.0.1 for the poller's tests (RFC 3501 subset).

It speaks the real protocol over a real socket — tagged commands, untagged responses,
literals ``{n}`` for message bodies — for what a polling client uses: CAPABILITY, NOOP,
LOGIN, SELECT, UID SEARCH UNSEEN, UID FETCH (UID, RFC822.SIZE, FLAGS, BODY.PEEK[],
BODY[] — the latter sets \\Seen as a real server does), UID STORE +FLAGS/-FLAGS, LOGOUT.
``drop_on_store`` makes it cut the connection on the next STORE (a crash between storing
a message and marking it seen)."""

from __future__ import annotations

import asyncio
import re
import shlex
import ssl
from dataclasses import dataclass, field


@dataclass
class StoredMail:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


class ImapServer:
    def __init__(self, user: str = "desk", password: str = "s3cret pass") -> None:
        self.user = user
        self.password = password
        self.mails: list[StoredMail] = []
        self.next_uid = 1
        self.drop_on_store = 0
        self.commands: list[str] = []  # what clients sent (LOGIN arguments blanked)
        self._server: asyncio.Server | None = None
        self.port = 0

    def deliver(self, raw: bytes) -> int:
        self.mails.append(StoredMail(self.next_uid, raw))
        self.next_uid += 1
        return self.next_uid - 1

    def seen(self) -> list[int]:
        return [m.uid for m in self.mails if "\\Seen" in m.flags]

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        """Listen on a free loopback port; ``tls``: implicit TLS (IMAPS, as port 993)."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state = "auth"
        try:
            writer.write(b"* OK [CAPABILITY IMAP4rev1] test server ready\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    return
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                tag, _, rest = text.partition(" ")
                command, _, args = rest.partition(" ")
                command = command.upper()
                self.commands.append(f"{command} ***" if command == "LOGIN" else rest)
                out, state, close = self._command(tag, command, args, state)
                if out is None:  # drop the connection, as a crash would
                    writer.close()
                    return
                writer.write(out)
                await writer.drain()
                if close:
                    writer.close()
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return

    def _command(
        self, tag: str, command: str, args: str, state: str
    ) -> tuple[bytes | None, str, bool]:
        t = tag.encode()
        if command == "CAPABILITY":
            return b"* CAPABILITY IMAP4rev1\r\n" + t + b" OK CAPABILITY completed\r\n", state, False
        if command == "NOOP":
            return t + b" OK NOOP completed\r\n", state, False
        if command == "LOGOUT":
            return b"* BYE logging out\r\n" + t + b" OK LOGOUT completed\r\n", state, True
        if command == "LOGIN":
            try:
                user, password = shlex.split(args)
            except ValueError:
                return t + b" BAD LOGIN needs user and password\r\n", state, False
            if (user, password) != (self.user, self.password):
                return t + b" NO [AUTHENTICATIONFAILED] invalid credentials\r\n", state, False
            return t + b" OK LOGIN completed\r\n", "authed", False
        if state == "auth":
            return t + b" NO not authenticated\r\n", state, False
        if command == "SELECT":
            if shlex.split(args) != ["INBOX"]:
                return t + b" NO no such mailbox\r\n", state, False
            unseen = [m for m in self.mails if "\\Seen" not in m.flags]
            head = (
                f"* {len(self.mails)} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n"
            )
            if unseen:
                head += f"* OK [UNSEEN {self.mails.index(unseen[0]) + 1}] first unseen\r\n"
            return head.encode() + t + b" OK [READ-WRITE] SELECT completed\r\n", "selected", False
        if state != "selected" or command != "UID":
            return t + b" BAD command unknown or not allowed now\r\n", state, False
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        if sub == "SEARCH":
            if rest.strip().upper() != "UNSEEN":
                return t + b" BAD only UNSEEN is searched here\r\n", state, False
            uids = " ".join(str(m.uid) for m in self.mails if "\\Seen" not in m.flags)
            return (
                f"* SEARCH {uids}".rstrip().encode() + b"\r\n" + t + b" OK SEARCH completed\r\n",
                state,
                False,
            )
        if sub == "FETCH":
            return self._fetch(t, rest), state, False
        if sub == "STORE":
            if self.drop_on_store:
                self.drop_on_store -= 1
                return None, state, True
            return self._store(t, rest), state, False
        return t + b" BAD unknown UID command\r\n", state, False

    def _find(self, uid_text: str) -> tuple[int, StoredMail] | None:
        if not uid_text.isdigit():
            return None
        for i, m in enumerate(self.mails, 1):
            if m.uid == int(uid_text):
                return i, m
        return None

    def _fetch(self, t: bytes, rest: str) -> bytes:
        uid_text, _, items = rest.partition(" ")
        found = self._find(uid_text)
        if found is None:
            return t + b" OK FETCH completed\r\n"  # no such UID: nothing, as RFC 3501 says
        seq, m = found
        wanted = items.strip().strip("()").upper().split()
        parts: list[bytes] = [b"UID " + str(m.uid).encode()]
        for item in wanted:
            if item == "UID":
                continue
            if item == "RFC822.SIZE":
                parts.append(b"RFC822.SIZE " + str(len(m.raw)).encode())
            elif item == "FLAGS":
                parts.append(b"FLAGS (" + " ".join(sorted(m.flags)).encode() + b")")
            elif item in ("BODY.PEEK[]", "BODY[]"):
                if item == "BODY[]":
                    m.flags.add("\\Seen")
                parts.append(b"BODY[] {" + str(len(m.raw)).encode() + b"}\r\n" + m.raw)
            else:
                return t + b" BAD unsupported fetch item\r\n"
        return (
            b"* "
            + str(seq).encode()
            + b" FETCH ("
            + b" ".join(parts)
            + b")\r\n"
            + t
            + b" OK FETCH completed\r\n"
        )

    def _store(self, t: bytes, rest: str) -> bytes:
        match = re.fullmatch(
            r"(\d+) ([+-])FLAGS(?:\.SILENT)? \(([^)]*)\)", rest.strip(), re.IGNORECASE
        )
        if match is None:
            return t + b" BAD STORE syntax\r\n"
        found = self._find(match.group(1))
        if found is None:
            return t + b" OK STORE completed\r\n"
        seq, m = found
        flags = set(match.group(3).split())
        if match.group(2) == "+":
            m.flags |= flags
        else:
            m.flags -= flags
        listed = " ".join(sorted(m.flags)).encode()
        return (
            b"* "
            + str(seq).encode()
            + b" FETCH (UID "
            + str(m.uid).encode()
            + b" FLAGS ("
            + listed
            + b"))\r\n"
            + t
            + b" OK STORE completed\r\n"
        )
