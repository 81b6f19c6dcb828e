"""The digest activity: each person due a digest gets one mail listing every notice held for
them, through the deployment's mailer (``BPO_SMTP_URL``), with their own sign-in link to ``/``;
the items it carried are then marked sent. Each person's items are claimed for the run before
their mail goes (`infra.digests.claim`), so two runs at once mail them once. An item is marked only
once its mail was taken, so a mailer that is away leaves everything for the next run: nothing held
is ever dropped. A digest the mail server refuses for good (a 5xx to its recipient) marks its
items refused, with the server's answer, and they are not tried again: `bpo notices` and the
person's ``/me`` page say so. A temporary refusal (a 4xx) or a mailer away leaves them for the next run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine
from temporalio import activity

from infra.digest_mail import digest_mail
from infra.digests import claim, due, mark_refused, mark_sent, refusal_words, release
from infra.links import mint_link
from infra.transport import Skipped, Transport, mail_answers
from models.deliveries import Notice
from models.digests import DigestRun, DigestsSent

log = structlog.get_logger(__name__)


class DigestActivities:
    """Holds the audit engine, the transport and the sender; ``send`` is the registered activity."""

    def __init__(self, engine: Engine, transport: Transport, sender: str) -> None:
        self.engine = engine
        self.transport = transport
        self.sender = sender
        """``BPO_MAIL_FROM``: the digest is the deployment's mail, as a sign-in link is."""

    @activity.defn(name="send_digests")
    async def send(self, run: DigestRun) -> DigestsSent:
        """Send every digest due at ``run.at`` (now, when not given)."""
        return await asyncio.to_thread(self.send_due, run.at or datetime.now(UTC))

    def send_due(self, now: datetime) -> DigestsSent:
        """Send every digest due at ``now``, one person at a time."""
        waiting = due(self.engine, now)
        if not waiting:
            return DigestsSent()
        try:
            smtp = self.transport.setting("BPO_SMTP_URL", self.transport.mailer)
        except Skipped as off:
            log.warning("digests_skipped", reason=str(off), people=len(waiting))
            return DigestsSent(left=len(waiting))
        done = DigestsSent()
        run = uuid.uuid4().hex  # this run's name on the items it claims
        for person, waiting_items in waiting.items():
            # Claimed before mailing, by the clock (a retried run shares this run's moment): a
            # second run at once finds them taken and mails nothing twice.
            items = claim(self.engine, [i.id for i in waiting_items], run, datetime.now(UTC))
            if not items:
                log.info("digest_claimed_elsewhere", to=person, items=len(waiting_items))
                continue
            notices = [Notice.model_validate(i.notice) for i in items]
            transitions = sorted({n.transition_id for n in notices})
            try:
                link = None
                if self.transport.web_url:
                    token = mint_link(self.engine, person, "/", self.transport.link_ttl)
                    link = f"{self.transport.web_url.rstrip('/')}/login/link/{token}"
                refused = mail_answers(self.transport, smtp, [(digest_mail(self.sender, person, notices, link), [person])])
                code, words = refused.get(person, (0, ""))
                if 400 <= code < 500:  # the server may take it later: as a mailer away
                    raise RuntimeError(f"the SMTP server refused the digest for now: {code}")
            except Exception as error:  # this person's digest waits for the next run; the others go
                log.warning("digest_failed", to=person, items=len(items), transitions=transitions,
                            error=str(error) or type(error).__name__)  # fmt: skip
                release(self.engine, [i.id for i in items], run)
                done.left += 1
                continue
            if code >= 500:  # refused for good: trying every hour would be refused every hour
                why = refusal_words(f"{code} {words}")
                mark_refused(self.engine, [i.id for i in items], datetime.now(UTC), run, why)
                for transition_id in transitions:
                    log.bind(transition_id=transition_id).warning(
                        "digest_refused", to=person, why=why,
                        notices=[n.id for n in notices if n.transition_id == transition_id])  # fmt: skip
                continue  # neither sent nor left: `DigestsSent` keeps its shape (histories decode it)
            mark_sent(self.engine, [i.id for i in items], now, run)
            done.sent += 1
            done.items += len(items)
            log.info("digest_sent", to=person, notices=[n.id for n in notices], transitions=transitions, items=len(items))
        return done
