"""Sending the outbox: claim due rows with a conditional UPDATE, render them, send them over
one SMTP connection per sweep, record each outcome as soon as it is known.

Exactly-once as far as SMTP allows: a row is claimed (`state='sending'`, `claimed_at`,
`claimed_by`) by an UPDATE whose WHERE clause only matches it while it is unclaimed (or its
claim abandoned), and RETURNING says which rows were won, so two processes never both send
one. A process that dies mid-send leaves its rows `sending`; once their lease is over another
process takes them again. The only double is a message the server accepted in the instant
before the dead process could record it.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from youth_hub.messaging.rendering import (
    MessageData,
    RenderError,
    build_email,
    ics_for,
    load_message_data,
    render_message,
    waitlist_position,
)
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.settings import Settings
from youth_hub.web import formats

log = logging.getLogger("youth_hub.messaging")

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_BATCH = 100
# Rows claimed by one conditional UPDATE. Small: a claimed row waits only for the few
# before it in the send queue.
CLAIM_CHUNK = 16
# A message the server keeps refusing with 4xx gives up after this many tries (about 2 h
# with the back-off below); a server that is away never makes a message fail.
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=30)
SMTP_TIMEOUT_S = 30.0
STATES = ("pending", "sending", "sent", "failed", "dropped")


class SmtpUrlError(ValueError):
    """YOUTH_HUB_SMTP_URL cannot be used; the message says why."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False
    timeout: float = SMTP_TIMEOUT_S
    cert_bundle: str | None = None


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://user:pass@host:587?starttls=true`, `smtps://host:465`; optional `timeout=`
    (seconds) and `cafile=` (a CA bundle for a relay with a private certificate)."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        raise SmtpUrlError("YOUTH_HUB_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise SmtpUrlError("YOUTH_HUB_SMTP_URL names no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    use_tls = parts.scheme == "smtps"
    start_tls = query.get("starttls", "false").lower() in {"1", "true", "yes", "on"}
    if use_tls and start_tls:
        raise SmtpUrlError("YOUTH_HUB_SMTP_URL: smtps:// is already TLS; drop ?starttls")
    try:
        port = parts.port or (465 if use_tls else 587 if start_tls else 25)
        timeout = float(query.get("timeout", SMTP_TIMEOUT_S))
    except ValueError as exc:
        raise SmtpUrlError("YOUTH_HUB_SMTP_URL has a port or timeout that is not a number") from exc
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
        timeout=timeout,
        cert_bundle=query.get("cafile"),
    )


@dataclass
class SweepReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    lost_claims: int = 0  # rows another process claimed first
    stopped: str = ""  # why the sweep ended early (mail server unreachable...)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.dropped


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8... minutes after the attempts so far, capped."""
    minutes = 2 ** max(0, min(attempts - 1, 20))
    return min(timedelta(minutes=minutes), MAX_BACKOFF)


class _ServerUnavailable(Exception):
    """The mail server cannot be reached (refused, timed out, TLS or login failed)."""


class _Connection:
    """One SMTP connection for the whole sweep, opened on the first message."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.client: aiosmtplib.SMTP | None = None

    async def ensure(self) -> aiosmtplib.SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password,
            use_tls=cfg.use_tls,
            start_tls=cfg.start_tls,
            timeout=cfg.timeout,
            cert_bundle=cfg.cert_bundle,
        )
        try:
            await client.connect()
        except (OSError, aiosmtplib.SMTPException) as exc:
            client.close()
            raise _ServerUnavailable(f"mail server unreachable: {_describe(exc)}") from exc
        self.client = client
        return client

    def reset(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (OSError, aiosmtplib.SMTPException):
                self.client.close()
        self.client = None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:500]


def _response_code(exc: aiosmtplib.SMTPException) -> int | None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients if isinstance(r, aiosmtplib.SMTPResponseException)]
        return max(codes) if codes else None
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else None


def _sender_address(mail_from: str) -> str:
    return email.utils.parseaddr(mail_from)[1]


async def _due_rows(now: datetime, lease: timedelta, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await (
        OutboxMessage.select()
        .where(
            ((OutboxMessage.state == "pending") & (OutboxMessage.due_at <= now))
            | ((OutboxMessage.state == "sending") & (OutboxMessage.claimed_at < now - lease))
        )
        .order_by(OutboxMessage.due_at)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .output(load_json=True)
        .run()
    )
    return rows


def _claimable(now: datetime, lease: timedelta) -> Any:
    return ((OutboxMessage.state == "pending") & (OutboxMessage.due_at <= now)) | (
        (OutboxMessage.state == "sending") & (OutboxMessage.claimed_at < now - lease)
    )


async def _claim_rows(
    row_ids: Sequence[int], worker_id: str, now: datetime, lease: timedelta
) -> set[int]:
    """The conditional UPDATE that makes rows ours: each listed row is taken only if it is
    still due and unclaimed (or abandoned) when the database writes it, and RETURNING says
    which ones we got; a row another process took first is simply not among them. A few rows
    per statement: a statement per row cost more than sending the message (bench/dispatch.py).
    """
    claimed = await (
        OutboxMessage.update(
            {
                OutboxMessage.state: "sending",
                OutboxMessage.claimed_at: now,
                OutboxMessage.claimed_by: worker_id,
            }
        )
        .where(OutboxMessage.id.is_in(list(row_ids)) & _claimable(now, lease))
        .returning(OutboxMessage.id)
        .run()
    )
    return {row["id"] for row in claimed}


async def _still_ours(row_id: int, worker_id: str, now: datetime) -> bool:
    """Renew an ageing claim before sending; False when another process took the row over."""
    renewed = await (
        OutboxMessage.update({OutboxMessage.claimed_at: now})
        .where(
            (OutboxMessage.id == row_id)
            & (OutboxMessage.state == "sending")
            & (OutboxMessage.claimed_by == worker_id)
        )
        .returning(OutboxMessage.id)
        .run()
    )
    return bool(renewed)


class _SentRecorder:
    """Records accepted messages as `sent` as soon as the server accepted them, without
    making the next message wait for that commit: ids accepted while a commit runs go
    together in the next one (group commit), so a slow disk never caps the sending rate.

    The window for a double after a crash stays what it must be: the time between a
    message's acceptance and the commit that records it."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.waiting: list[int] = []
        self.task: asyncio.Task[None] | None = None
        self.recorded = 0

    def add(self, row_id: int) -> None:
        self.waiting.append(row_id)
        if self.task is None or self.task.done():
            # A fresh context: the recorder must not write inside a claim's transaction.
            self.task = asyncio.get_running_loop().create_task(
                self._flush(), context=contextvars.Context()
            )

    async def _flush(self) -> None:
        while self.waiting:
            ids, self.waiting = self.waiting, []
            await _mark_sent(ids, self.clock())
            self.recorded += len(ids)

    async def drain(self) -> None:
        while self.task is not None and not self.task.done():
            await asyncio.shield(self.task)
        if self.task is not None and self.task.done():
            self.task.result()  # a failed write surfaces here
        if self.waiting:  # added after the last flush ended
            await self._flush()


async def _mark_sent(row_ids: Sequence[int], now: datetime) -> None:
    # Unconditional on the claim: the server accepted it, so `sent` is the truth even if our
    # lease ran out meanwhile (a late competitor then cannot set it back to pending).
    await (
        OutboxMessage.update(
            {
                OutboxMessage.state: "sent",
                OutboxMessage.sent_at: now,
                OutboxMessage.attempts: OutboxMessage.attempts + 1,
                OutboxMessage.last_error: "",
            }
        )
        .where(OutboxMessage.id.is_in(list(row_ids)) & (OutboxMessage.state != "sent"))
        .run()
    )


async def _release(row: Mapping[str, Any], worker_id: str, values: dict[Any, Any]) -> None:
    await (
        OutboxMessage.update(values)
        .where(
            (OutboxMessage.id == row["id"])
            & (OutboxMessage.state == "sending")
            & (OutboxMessage.claimed_by == worker_id)
        )
        .run()
    )


async def _retry_later(row: Mapping[str, Any], worker_id: str, now: datetime, error: str) -> None:
    attempts = int(row["attempts"]) + 1
    await _release(
        row,
        worker_id,
        {
            OutboxMessage.state: "pending",
            OutboxMessage.due_at: now + backoff(attempts),
            OutboxMessage.attempts: attempts,
            OutboxMessage.last_error: error[:1000],
            OutboxMessage.claimed_at: None,
            OutboxMessage.claimed_by: None,
        },
    )


async def _fail(row: Mapping[str, Any], worker_id: str, error: str, *, attempt: bool) -> None:
    await _release(
        row,
        worker_id,
        {
            OutboxMessage.state: "failed",
            OutboxMessage.attempts: int(row["attempts"]) + (1 if attempt else 0),
            OutboxMessage.last_error: error[:1000],
        },
    )


async def _drop(row: Mapping[str, Any], worker_id: str, reason: str) -> None:
    await _release(
        row, worker_id, {OutboxMessage.state: "dropped", OutboxMessage.last_error: reason}
    )


def stale_reason(row: Mapping[str, Any], data: MessageData, now: datetime) -> str:
    """Why a due message should not go out any more ('' when it should): a reminder for a
    seat no longer confirmed, or for a program that has begun or is cancelled."""
    if row["kind"] != "reminder":
        return ""
    registration = data.registration_for(row)
    if registration is None or registration["status"] != "confirmed":
        return "dropped: the registration is no longer confirmed"
    program = data.program_for(row)
    if program is None or program["status"] != "published":
        return "dropped: the program is not running"
    starts = program.get("first_starts_at")
    if starts is not None and starts <= now:
        return "dropped: the program had already begun"
    return ""


async def prepare_email(
    row: Mapping[str, Any], data: MessageData, settings: Settings, now: datetime
) -> bytes:
    """The bytes to hand to the server: rendered, headers set, calendar attached."""
    position = None
    if row["kind"] == "waitlisted" and not (row.get("context") or {}).get("waitlist_position"):
        registration = data.registration_for(row)
        position = await waitlist_position(registration) if registration else None
    try:
        rendered = render_message(row, data, settings, position=position)
        # Let a waiting SMTP answer through between the steps (the sender runs alongside).
        await asyncio.sleep(0)
        ics = ics_for(row, data, settings)
    except RenderError:
        raise
    except Exception as exc:  # a template or data problem must not stall the queue
        raise RenderError(f"cannot render: {_describe(exc)}") from exc
    return build_email(row, rendered, settings, date=now, ics=ics)


async def send_due_messages(
    settings: Settings,
    *,
    now: datetime | None = None,
    worker_id: str | None = None,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
    max_messages: int | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> SweepReport:
    """Send what is due. `now` fixes the clock (tests); by default each step reads the time.

    Without `settings.smtp_url` nothing is sent: the rows wait, visible at /manage/outbox.
    `keep_going` is asked before each claim (a stopping scheduler claims nothing more)."""
    report = SweepReport()
    if not settings.smtp_url:
        report.stopped = "no smtp_url"
        return report
    config = parse_smtp_url(settings.smtp_url)
    formats.configure_timezone(settings.timezone)
    worker = worker_id or default_worker_id()
    clock: Callable[[], datetime] = (
        (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    )
    sender = _sender_address(settings.mail_from)
    if "@" not in sender:
        log.error("YOUTH_HUB_MAIL_FROM holds no usable address: messages wait")
        report.stopped = "mail_from unusable"
        return report
    sweep = _Sweep(
        settings,
        worker,
        clock,
        sender,
        lease,
        _Connection(config),
        _SentRecorder(clock),
        report,
        batch,
        max_messages,
        keep_going,
    )
    try:
        await sweep.run()
    finally:
        try:
            await sweep.recorder.drain()
        finally:
            await sweep.connection.close()
    return report


@dataclass
class _Prepared:
    row: dict[str, Any]
    payload: bytes
    claimed_at: datetime


@dataclass
class _Sweep:
    """Two tasks: one claims due rows (a few per commit) and renders them, the other sends
    them in order over one connection. Claiming and rendering the next messages overlap the
    server's answers to the previous ones; a short queue keeps claimed rows waiting briefly."""

    settings: Settings
    worker: str
    clock: Callable[[], datetime]
    sender: str
    lease: timedelta
    connection: _Connection
    recorder: _SentRecorder
    report: SweepReport
    batch: int = DEFAULT_BATCH
    max_messages: int | None = None
    keep_going: Callable[[], bool] | None = None
    halted: bool = False  # the server is unreachable: claim nothing more, release the rest

    async def run(self) -> None:
        queue: asyncio.Queue[_Prepared | None] = asyncio.Queue(maxsize=CLAIM_CHUNK)
        producer = asyncio.get_running_loop().create_task(self.produce(queue))
        try:
            await self.consume(queue)
        finally:
            if not producer.done():
                self.halted = True
                while not producer.done():  # let it release what it holds and finish
                    while not queue.empty():
                        item = queue.get_nowait()
                        if item is not None:
                            await self._release_unsent([item.row])
                    await asyncio.wait({producer}, timeout=0.05)
            producer.result()

    def _may_claim(self, claimed: int) -> bool:
        if self.halted:
            return False
        if self.keep_going is not None and not self.keep_going():
            self.report.stopped = self.report.stopped or "stopping"
            return False
        return self.max_messages is None or claimed < self.max_messages

    async def produce(self, queue: asyncio.Queue[_Prepared | None]) -> None:
        seen: set[int] = set()
        claimed = 0
        try:
            while self._may_claim(claimed):
                due = await _due_rows(self.clock(), self.lease, self.batch)
                rows = [r for r in due if r["id"] not in seen]
                if not rows:
                    break
                seen.update(r["id"] for r in rows)
                data = await load_message_data(rows)
                for start in range(0, len(rows), CLAIM_CHUNK):
                    if not self._may_claim(claimed):
                        return
                    chunk = rows[start : start + CLAIM_CHUNK]
                    if self.max_messages is not None:
                        chunk = chunk[: self.max_messages - claimed]
                    claimed_at = self.clock()
                    ours = await _claim_rows(
                        [r["id"] for r in chunk], self.worker, claimed_at, self.lease
                    )
                    claimed += len(ours)
                    self.report.lost_claims += len(chunk) - len(ours)
                    mine = [r for r in chunk if r["id"] in ours]
                    for index, row in enumerate(mine):
                        if self.halted:
                            await self._release_unsent(mine[index:])
                            return
                        payload = await self.prepare(row, data)
                        if payload is not None:
                            await queue.put(_Prepared(row, payload, claimed_at))
        finally:
            await queue.put(None)

    async def consume(self, queue: asyncio.Queue[_Prepared | None]) -> None:
        while (item := await queue.get()) is not None:
            if self.halted:
                await self._release_unsent([item.row])
                continue
            # A slow server may keep a claimed row waiting: renew an ageing claim rather
            # than let another process take the row over while we still hold it.
            if self.clock() - item.claimed_at > self.lease / 2:
                if not await _still_ours(item.row["id"], self.worker, self.clock()):
                    self.report.lost_claims += 1
                    continue
            if not self.count(await self.transmit(item.row, item.payload)):
                self.halted = True

    def count(self, outcome: str) -> bool:
        """Tally an outcome; False when the server is unreachable (the sweep stops)."""
        if outcome == "unreachable":
            self.report.retried += 1
            self.report.stopped = "mail server unreachable"
            return False
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        return True

    async def _release_unsent(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Claimed but not tried: back to the queue as they were (no attempt counted)."""
        for row in rows:
            await _release(
                row,
                self.worker,
                {
                    OutboxMessage.state: "pending",
                    OutboxMessage.claimed_at: None,
                    OutboxMessage.claimed_by: None,
                },
            )

    async def prepare(self, row: dict[str, Any], data: MessageData) -> bytes | None:
        """The bytes to send, or None when the row was dropped or failed here."""
        reason = stale_reason(row, data, self.clock())
        if reason:
            await _drop(row, self.worker, reason)
            self.report.dropped += 1
            return None
        try:
            return await prepare_email(row, data, self.settings, self.clock())
        except RenderError as exc:
            log.warning("outbox %s cannot be built: %s", row["id"], exc)
            await _fail(row, self.worker, str(exc), attempt=False)
            self.report.failed += 1
            return None

    async def transmit(self, row: dict[str, Any], payload: bytes) -> str:
        worker, clock = self.worker, self.clock
        try:
            client = await self.connection.ensure()
        except _ServerUnavailable as exc:
            await _retry_later(row, worker, clock(), str(exc))
            return "unreachable"
        try:
            await client.sendmail(self.sender, [row["to_email"]], payload)
        except aiosmtplib.SMTPException as exc:
            code = _response_code(exc)
            error = f"{code or ''} {_describe(exc)}".strip()
            if code is None or code == 421:  # disconnected, timed out, closing: reconnect next
                self.connection.reset()
            if code is not None and code >= 500:
                await _fail(row, worker, error, attempt=True)
                return "failed"
            if code is not None and row["attempts"] + 1 >= MAX_ATTEMPTS:
                error = f"gave up after {MAX_ATTEMPTS} attempts: {error}"
                await _fail(row, worker, error, attempt=True)
                return "failed"
            await _retry_later(row, worker, clock(), error)
            return "retried"
        except OSError as exc:
            self.connection.reset()
            await _retry_later(row, worker, clock(), f"connection lost: {_describe(exc)}")
            return "retried"
        except ValueError as exc:  # an address aiosmtplib will not put on the wire
            await _fail(row, worker, f"unusable address: {_describe(exc)}", attempt=False)
            return "failed"
        self.recorder.add(row["id"])  # recorded right away, while the next one is sent
        return "sent"


# --- What staff see at /manage/outbox -------------------------------------------------------

_OUTBOX_FROM = (
    "FROM messaging_outbox o "
    "LEFT JOIN registration_registration r ON r.code = o.ticket_code "
    "LEFT JOIN catalog_program p ON p.id = COALESCE(o.program, r.program) "
)
_OUTBOX_COLUMNS = (
    "SELECT o.id, o.kind, o.to_name, o.to_email, o.language, o.ticket_code, o.program, "
    "o.context, o.message_id, o.state, o.due_at, o.attempts, o.last_error, o.sent_at, "
    "o.created_at, o.claimed_at, o.claimed_by, p.title AS program_title "
)


def _visible_to(user: Any) -> tuple[list[str], list[Any]]:
    """Office roles see everything; an organiser their programs' messages and their own."""
    if user.is_office:
        return [], []
    return ["(p.organiser = {} OR o.to_email = {})"], [user.id, user.email]


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("due_at", "sent_at", "created_at", "claimed_at"):
        value = row.get(key)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        row[key] = value
    if isinstance(row.get("context"), str):
        try:
            row["context"] = json.loads(row["context"])
        except ValueError:
            row["context"] = {}
    return row


async def list_outbox(
    user: Any,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The messages `user` may see (newest due first; the waiting ones soonest first), and
    how many there are in each state."""
    where, args = _visible_to(user)
    count_where = " AND ".join(where) if where else "1 = 1"
    count_rows = await OutboxMessage.raw(
        f"SELECT o.state AS state, COUNT(*) AS n {_OUTBOX_FROM} WHERE {count_where} "
        "GROUP BY o.state",
        *args,
    ).run()
    counts = {r["state"]: int(r["n"]) for r in count_rows}
    if state:
        where.append("o.state = {}")
        args.append(state)
    if kind:
        where.append("o.kind = {}")
        args.append(kind)
    waiting = state in {"pending", "sending"}
    order = "o.due_at ASC, o.id ASC" if waiting else "o.due_at DESC, o.id DESC"
    sql = (
        f"{_OUTBOX_COLUMNS}{_OUTBOX_FROM} WHERE {' AND '.join(where) or '1 = 1'} "
        f"ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    rows = await OutboxMessage.raw(sql, *args).run()
    return [_normalise(r) for r in rows], counts


async def outbox_message(user: Any, message_id: int) -> dict[str, Any] | None:
    where, args = _visible_to(user)
    where.insert(0, "o.id = {}")
    args.insert(0, message_id)
    rows = await OutboxMessage.raw(
        f"{_OUTBOX_COLUMNS}{_OUTBOX_FROM} WHERE {' AND '.join(where)}", *args
    ).run()
    return _normalise(rows[0]) if rows else None


async def preview_message(row: Mapping[str, Any], settings: Settings) -> dict[str, str]:
    """The text the recipient gets (or got), rendered as at sending time."""
    formats.configure_timezone(settings.timezone)
    data = await load_message_data([row])
    position = None
    registration = data.registration_for(row)
    if row["kind"] == "waitlisted" and registration:
        position = await waitlist_position(registration)
    try:
        rendered = render_message(row, data, settings, position=position)
    except Exception as exc:  # shown to staff instead of the text: the row cannot be rendered
        return {"subject": "", "text": "", "error": _describe(exc)}
    return {"subject": rendered.subject, "text": rendered.text, "error": ""}


async def retry_message(message_id: int, now: datetime | None = None) -> bool:
    """A failed message goes back to the queue, due now, with its attempts reset."""
    rows = (
        await OutboxMessage.update(
            {
                OutboxMessage.state: "pending",
                OutboxMessage.due_at: now or datetime.now(UTC),
                OutboxMessage.attempts: 0,
                OutboxMessage.last_error: "",
                OutboxMessage.claimed_at: None,
                OutboxMessage.claimed_by: None,
            }
        )
        .where((OutboxMessage.id == message_id) & (OutboxMessage.state == "failed"))
        .returning(OutboxMessage.id)
        .run()
    )
    return bool(rows)
