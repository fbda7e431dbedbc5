"""The scripted scenario of Channels (14): tickets chained and signed with the dev keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._hashing import blake2_256
from .._pallet import Origin
from ..pallets.channels import (
    CLOSE_DELAY,
    MAX_TICKET_LIFE,
    channel_genesis,
    ticket_hash,
    ticket_message,
)
from ._protocol import PRICE, register_model, register_provider
from ._signing import Signer
from ._vectors import Recorder, Vector

__all__ = ["Gateway", "channels"]

ROOT = Origin.root()
NONE = Origin.none()


@dataclass
class Gateway:
    """The requester's side of one channel: it chains tickets and signs the last of a run."""

    signer: Signer
    requester: bytes
    executor: bytes
    channel_id: int
    models: list[bytes]
    head: bytes = b""
    cumulative: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.head:
            self.head = channel_genesis(self.channel_id)

    def fork(self) -> Gateway:
        """A copy to issue tickets that will be refused (the original chain stays clean)."""
        return Gateway(
            self.signer, self.requester, self.executor, self.channel_id, list(self.models),
            self.head, self.cumulative, [dict(r) for r in self.results], list(self.heads),
        )  # fmt: skip

    def ticket(
        self, expiry: int, max_amount: int, *, model_index: int = 0, prompt_tokens: int = 100,
        completion_tokens: int = 20, max_tokens: int = 50, max_price: int = PRICE,
        hashed_model: bytes | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        nonce = len(self.results) + 1
        self.cumulative += max_amount
        prompt_hash = blake2_256(b"prompt %d/%d" % (self.channel_id, nonce))
        model = hashed_model or self.models[model_index]
        self.head = ticket_hash(
            self.head, self.channel_id, self.executor, model, prompt_hash, max_tokens,
            max_price, max_amount, self.cumulative, nonce, expiry,
        )  # fmt: skip
        self.heads.append(self.head)
        result = {
            "model_index": model_index,
            "prompt_hash": prompt_hash,
            "max_tokens": max_tokens,
            "max_price_per_1k_tokens": max_price,
            "max_amount": max_amount,
            "expiry": expiry,
            "output_hash": blake2_256(b"output %d/%d" % (self.channel_id, nonce)),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
        self.results.append(result)
        return result

    def settlement(
        self, first: int, last: int | None = None, *, signer: bytes | None = None,
        models: list[bytes] | None = None, first_nonce: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Tickets `first..=last` (1-based nonces), signed on the last."""
        last = len(self.results) if last is None else last
        head = self.heads[last - 1]
        return {
            "requester": self.requester,
            "first_nonce": first if first_nonce is None else first_nonce,
            "models": self.models if models is None else models,
            "results": self.results[first - 1 : last],
            "signature": self.signer.sign(signer or self.requester, ticket_message(head)),
        }


CHANNELS_UNREACHABLE: dict[str, str] = {}


def channels(signer: Signer) -> Vector:
    r = Recorder("channels", ("Tokens", "ModelRegistry", "Providers", "Inference", "Channels"))
    alice, bob, charlie, dave, eve, ferdie = r.accounts
    r.block()
    m = register_model(r, alice, "c1")
    m_infer = register_model(r, alice, "c-infer", currency_id=1)
    for who in (bob, charlie, dave):
        register_provider(r, who, [m, m_infer], capacity=16)
    r.call("bob is trusted", ROOT, "Providers", "set_reputation", who=("Id", bob), reputation=100)
    r.block()

    def open_(
        label: str, who: bytes, executor: bytes, amount: int, expect: str = "ok", currency: int = 2
    ) -> None:
        r.call(
            label,
            who,
            "Channels",
            "open_channel",
            executor=executor,
            currency_id=currency,
            amount=amount,
            expect=expect,
        )

    def settle(
        label: str, who: Origin | bytes, settlements: list[dict[str, Any]], expect: str = "ok"
    ) -> None:
        r.call(label, who, "Channels", "settle", settlements=settlements, expect=expect)

    # open_channel
    open_("zero", eve, bob, 0, "Channels.ZeroAmount")
    open_("to self", bob, bob, 10**15, "Channels.SelfChannel")
    open_("to a non-provider", eve, alice, 10**15, "Channels.NotProvider")
    open_("more than free", eve, bob, 2 * 10**18, "Tokens.BalanceTooLow")
    r.call(
        "unsigned",
        NONE,
        "Channels",
        "open_channel",
        executor=bob,
        currency_id=2,
        amount=1,
        expect="BadOrigin",
    )
    open_("eve to bob", eve, bob, 10**15)
    open_("top up", eve, bob, 10**14)
    open_("another currency", eve, bob, 10**14, "Channels.CurrencyMismatch", currency=1)
    open_("eve to charlie", eve, charlie, 10**15)
    open_("ferdie to bob, small", ferdie, bob, 10**10)
    open_("eve to dave, to close", eve, dave, 10**12)
    to_bob = Gateway(signer, eve, bob, 0, [m])
    to_charlie = Gateway(signer, eve, charlie, 1, [m])
    small = Gateway(signer, ferdie, bob, 2, [m])

    # close_channel and withdraw, first refusals
    r.call(
        "no channel", eve, "Channels", "close_channel", executor=alice, expect="Channels.NoChannel"
    )
    r.call("not closing", eve, "Channels", "withdraw", executor=dave, expect="Channels.NotClosing")
    r.call("no channel", ferdie, "Channels", "withdraw", executor=dave, expect="Channels.NoChannel")
    r.call("starts closing", eve, "Channels", "close_channel", executor=dave)
    r.call(
        "again", eve, "Channels", "close_channel", executor=dave, expect="Channels.AlreadyClosing"
    )
    r.call("unsigned", NONE, "Channels", "close_channel", executor=dave, expect="BadOrigin")
    r.call(
        "still closing", eve, "Channels", "withdraw", executor=dave, expect="Channels.StillClosing"
    )
    r.call("unsigned", NONE, "Channels", "withdraw", executor=dave, expect="BadOrigin")
    open_("a closing channel", eve, dave, 10**12, "Channels.ChannelClosing")
    r.block()

    now = r.number
    # settle: the call's own refusals
    settle("nothing", bob, [], "Channels.EmptySettlement")
    to_bob.ticket(now + 50, 10**12)
    settle(
        "only empty runs",
        bob,
        [{**to_bob.settlement(1), "results": []}],
        "Channels.EmptySettlement",
    )
    big = to_bob.fork()
    for _ in range(1024):
        big.ticket(now + 50, 10**9, prompt_tokens=1, completion_tokens=0)
    settle("1025 results", bob, [big.settlement(1)], "Channels.TooManyResults")
    settle("not a provider", eve, [to_bob.settlement(1)], "Channels.NotProvider")
    settle("unsigned", NONE, [to_bob.settlement(1)], "BadOrigin")
    # per settlement, in order
    settle(
        "no channel", dave, [{**to_bob.settlement(1), "requester": ferdie}], "Channels.NoChannel"
    )
    settle("a gap", bob, [to_bob.settlement(1, first_nonce=2)], "Channels.TicketGap")
    many = [blake2_256(b"model %d" % i) for i in range(17)]
    settle("17 models", bob, [to_bob.settlement(1, models=many)], "Channels.TooManyModels")
    settle(
        "unknown model",
        bob,
        [to_bob.settlement(1, models=[blake2_256(b"nothing")])],
        "Channels.UnknownModel",
    )
    bad_index = to_bob.fork()
    bad_index.ticket(now + 50, 10**12, model_index=1, hashed_model=m)
    settle("bad model index", bob, [bad_index.settlement(1)], "Channels.BadModelIndex")
    expired = to_bob.fork()
    expired.ticket(now - 1, 10**12)
    settle("the last ticket expired", bob, [expired.settlement(1)], "Channels.TicketExpired")
    settle(
        "signed by another key",
        bob,
        [to_bob.settlement(1, signer=ferdie)],
        "Channels.BadTicketSignature",
    )
    settle(
        "signed for another channel", charlie, [to_bob.settlement(1)], "Channels.BadTicketSignature"
    )
    wrong = to_bob.settlement(1)
    settle(
        "a tampered result",
        bob,
        [{**wrong, "results": [{**wrong["results"][0], "max_amount": 10**13}]}],
        "Channels.BadTicketSignature",
    )
    far = to_bob.fork()
    far.ticket(now + MAX_TICKET_LIFE + CLOSE_DELAY + 1, 10**12)
    settle("expiry too far", bob, [far.settlement(1)], "Channels.ExpiryTooFar")
    cheap = to_bob.fork()
    cheap.ticket(now + 50, 10**12, max_price=PRICE - 1)
    settle("price above the maximum", bob, [cheap.settlement(1)], "Channels.PriceAboveMaximum")
    greedy = to_bob.fork()
    greedy.ticket(now + 50, 10**12, completion_tokens=51)
    settle("more than max_tokens", bob, [greedy.settlement(1)], "Channels.InvalidTokenCount")
    other = Gateway(signer, eve, bob, 0, [m_infer])
    other.ticket(now + 50, 10**12)
    settle("a model in another currency", bob, [other.settlement(1)], "Channels.CurrencyMismatch")
    costly = Gateway(signer, ferdie, bob, 2, [m])
    costly.ticket(now + 50, 10**12, prompt_tokens=5_000, completion_tokens=0, max_tokens=50)
    settle("more than the deposit", bob, [costly.settlement(1)], "Channels.InsufficientDeposit")

    # settle: paid at once (bob, reputation 100), then replay; an expired and an unserved ticket
    settle("one ticket", bob, [to_bob.settlement(1)])
    settle("replayed", bob, [to_bob.settlement(1)], "Channels.TicketReplayed")
    to_bob.ticket(now - 1, 10**12)  # 2: expired, not paid
    to_bob.ticket(now + 60, 10**12, prompt_tokens=0, completion_tokens=0)  # 3: never served
    for _ in range(4):
        to_bob.ticket(now + 60, 10**12, prompt_tokens=300, completion_tokens=40)
    small.ticket(now + 60, 10**9, prompt_tokens=1, completion_tokens=1)
    settle("two channels at once", bob, [to_bob.settlement(2), small.settlement(1)])

    # settle: sampled (charlie, reputation 0), then verdicts
    for _ in range(5):
        to_charlie.ticket(now + 40, 10**12, prompt_tokens=200, completion_tokens=30)
    settle("sampled", charlie, [to_charlie.settlement(1)])
    checks = [
        (int.from_bytes(k[-8:], "little"), v)
        for k, v in sorted(r.sm.state.items())
        if k.startswith(r.runtime.by_name["Channels"].storage["DirectChecks"].key(0)[:32])
    ]
    direct_ids = sorted(i for i, _ in checks)
    verdicts = "submit_direct_validations"
    check_of = {i: r.get("Channels", "DirectChecks", i) for i in direct_ids}
    first = direct_ids[0]
    validator = check_of[first].validator
    outsider = next(p for p in (alice, bob, dave, ferdie) if p != validator)
    r.call(
        "unknown check",
        validator,
        "Channels",
        verdicts,
        verdicts=[(10**6, True)],
        expect="Channels.UnknownCheck",
    )
    r.call(
        "not the validator",
        outsider,
        "Channels",
        verdicts,
        verdicts=[(first, True)],
        expect="Channels.NotValidator",
    )
    r.call("unsigned", NONE, "Channels", verdicts, verdicts=[(first, True)], expect="BadOrigin")
    r.call("passes", validator, "Channels", verdicts, verdicts=[(first, True)])
    second = direct_ids[1]
    r.call("fails", check_of[second].validator, "Channels", verdicts, verdicts=[(second, False)])
    r.call(
        "twice",
        check_of[second].validator,
        "Channels",
        verdicts,
        verdicts=[(second, True)],
        expect="Channels.UnknownCheck",
    )
    rest = direct_ids[2:4]
    by_validator: dict[bytes, list[int]] = {}
    for i in rest:
        by_validator.setdefault(check_of[i].validator, []).append(i)
    for who, ids in by_validator.items():
        r.call(
            "a batch",
            who,
            "Channels",
            verdicts,
            verdicts=[(i, n % 2 == 0) for n, i in enumerate(ids)],
        )
    r.call("empty batch", eve, "Channels", verdicts, verdicts=[])
    r.call("pending checks", eve, "Channels", "close_channel", executor=charlie)
    # the last check (direct_ids[4]) goes unanswered: paid in on_initialize after its deadline

    # TooManyTimeouts: 257 sampled results due in one block
    r.block()
    now = r.number
    for _ in range(257):
        to_charlie.ticket(now + 30, 10**10, prompt_tokens=1, completion_tokens=1)
    settle("257 sampled results", charlie, [to_charlie.settlement(6)], "Channels.TooManyTimeouts")
    settle("256 sampled results", charlie, [to_charlie.settlement(6, 261)])
    r.blocks_until(now + 22)
    r.call(
        "still closing",
        eve,
        "Channels",
        "withdraw",
        executor=charlie,
        expect="Channels.StillClosing",
    )

    # withdraw after the close delay; a check settled while closing holds the deposit
    r.blocks_until(r.get("Channels", "Channels", eve, charlie).closing_at)
    r.call("closed", eve, "Channels", "withdraw", executor=dave)
    r.call("gone", eve, "Channels", "withdraw", executor=dave, expect="Channels.NoChannel")
    to_charlie.ticket(r.number + 10, 10**10, prompt_tokens=5, completion_tokens=5)
    settle("while closing (an expired ticket first)", charlie, [to_charlie.settlement(262)])
    r.call(
        "a check pending",
        eve,
        "Channels",
        "withdraw",
        executor=charlie,
        expect="Channels.ChecksPending",
    )
    r.blocks_until(r.number + 22)
    r.call("after its checks were paid", eve, "Channels", "withdraw", executor=charlie)
    r.block()
    return r.finish(CHANNELS_UNREACHABLE)
