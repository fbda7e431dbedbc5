"""Seeded random call sequences: the same sequence (and so the same bytes) on every run."""

from __future__ import annotations

import random
from typing import Any

from .._hashing import blake2_256
from .._pallet import Origin
from ..pallets._cid import Cid
from ..pallets.model_registry import model_id_of
from ..pallets.providers import MIN_STAKE
from ..pallets.tokens import EXISTENTIAL_DEPOSIT, TokenAccount
from ._channels import Gateway
from ._protocol import key_of
from ._scenarios import cid_v0, fresh_account, model_args
from ._signing import Signer
from ._vectors import Recorder, Vector

__all__ = ["protocol", "tokens_registry"]

ED = EXISTENTIAL_DEPOSIT
TASKS = ("TextGeneration", "Embedding", "ImageGeneration", "SpeechToText", "Other")
FORMATS = ("Safetensors", "Gguf", "Onnx")


class _Walk:
    """Random Tokens and ModelRegistry calls over the dev and a few fresh accounts."""

    def __init__(self, r: Recorder, rng: random.Random) -> None:
        self.r = r
        self.rng = rng
        self.people = [*r.accounts, *(fresh_account(f"walk{i}") for i in range(3))]
        self.cids = [cid_v0(f"walk{i}") for i in range(24)]
        self.models: list[bytes] = []

    def who(self) -> bytes:
        return self.rng.choice(self.people)

    def currency(self) -> int:
        return self.rng.choice((1, 1, 2, 2, 3))

    def amount(self, who: bytes, currency: int) -> int:
        data: TokenAccount = self.r.get("Tokens", "Accounts", who, currency)
        choices = [
            0,
            1,
            ED - 1,
            ED,
            ED + 1,
            data.free,
            max(0, data.free - ED),
            max(0, data.free - ED + 1),
            data.free + 1,
            self.rng.randrange(1, 10**16),
            self.rng.randrange(1, max(2, data.free + 1)),
        ]
        return self.rng.choice(choices)

    def origin(self) -> Origin:
        roll = self.rng.random()
        if roll < 0.03:
            return Origin.root()
        if roll < 0.05:
            return Origin.none()
        return Origin.signed(self.who())

    def step(self) -> None:
        rng, r = self.rng, self.r
        kind = rng.choices(
            [
                "transfer",
                "keep_alive",
                "all",
                "force",
                "set_balance",
                "register",
                "update",
                "price",
                "deprecate",
                "ownership",
            ],
            weights=[20, 10, 6, 5, 6, 10, 6, 5, 3, 4],
        )[0]
        origin = self.origin()
        sender = origin.who or self.who()
        dest = ("Id", self.who())
        cur = self.currency()
        call: tuple[str, str, dict[str, Any]]
        if kind == "transfer":
            amount = self.amount(sender, cur)
            call = ("Tokens", "transfer", {"dest": dest, "currency_id": cur, "amount": amount})
        elif kind == "keep_alive":
            amount = self.amount(sender, cur)
            args = {"dest": dest, "currency_id": cur, "amount": amount}
            call = ("Tokens", "transfer_keep_alive", args)
        elif kind == "all":
            args = {"dest": dest, "currency_id": cur, "keep_alive": rng.random() < 0.5}
            call = ("Tokens", "transfer_all", args)
        elif kind == "force":
            if rng.random() < 0.8:
                origin = Origin.root()
            source = self.who()
            args = {
                "source": ("Id", source),
                "dest": dest,
                "currency_id": cur,
                "amount": self.amount(source, cur),
            }
            call = ("Tokens", "force_transfer", args)
        elif kind == "set_balance":
            if rng.random() < 0.8:
                origin = Origin.root()
            free = rng.choice([0, ED - 1, ED, 3 * ED, rng.randrange(10**18)])
            reserved = rng.choice([0, 0, 1, ED, rng.randrange(10**15)])
            args = {"who": dest, "currency_id": cur, "new_free": free, "new_reserved": reserved}
            call = ("Tokens", "set_balance", args)
        elif kind == "register":
            cid = rng.choice(self.cids)
            if rng.random() < 0.05:
                cid = cid[:-1]
            args = model_args(
                cid,
                task=rng.choice(TASKS),
                format=rng.choice(FORMATS),
                size_bytes=rng.choice([0, 1, rng.randrange(1, 2**40)]),
                price_per_1k_tokens=rng.randrange(0, 10**13),
                currency_id=rng.choice((1, 2, 3, 4)),
                author_share=rng.randrange(0, 1_000_001),
                name=rng.choice([b"m", b"", b"x" * 64, b"y" * 65, b"walk-model"]),
            )
            call = ("ModelRegistry", "register_model", args)
            self.models.append(model_id_of(Cid(cid)))
        else:
            model = rng.choice(self.models) if self.models else bytes(32)
            if kind == "update":
                args = {
                    "model_id": model,
                    "new_cid": rng.choice(self.cids),
                    "size_bytes": rng.choice([0, rng.randrange(1, 2**40)]),
                }
                call = ("ModelRegistry", "update_model", args)
            elif kind == "price":
                args = {
                    "model_id": model,
                    "price_per_1k_tokens": rng.randrange(10**13),
                    "currency_id": rng.choice((1, 2, 3)),
                }
                call = ("ModelRegistry", "set_price", args)
            elif kind == "deprecate":
                call = ("ModelRegistry", "deprecate_model", {"model_id": model})
            else:
                args = {"model_id": model, "new_owner": dest}
                call = ("ModelRegistry", "transfer_ownership", args)
            if origin.kind == "Signed" and rng.random() < 0.7:
                info = r.get("ModelRegistry", "Models", model)
                if info is not None:
                    origin = Origin.signed(info.owner)
        pallet, name, args = call
        r.call("random", origin, pallet, name, expect=None, **args)


def tokens_registry(steps: int = 800, seed: int = 11) -> Vector:
    """`steps` random Tokens and ModelRegistry calls, a new block every few calls."""
    r = Recorder("random_tokens_registry", ("Tokens", "ModelRegistry"))
    rng = random.Random(seed)
    walk = _Walk(r, rng)
    r.block()
    for _ in range(steps):
        if rng.random() < 0.15:
            r.block()
        walk.step()
    r.block()
    return r.finish()


class _ProtocolWalk(_Walk):
    """Random calls of every protocol pallet, mostly by the account entitled to make them."""

    def __init__(self, r: Recorder, rng: random.Random, signer: Signer) -> None:
        super().__init__(r, rng)
        self.signer = signer
        self.gateways: dict[tuple[bytes, bytes], Gateway] = {}

    def _requests(self) -> list[tuple[int, Any]]:
        count = int(self.r.get("Inference", "NextRequestId"))
        found = [
            (i, self.r.get("Inference", "Requests", i)) for i in range(max(0, count - 40), count)
        ]
        return [(i, req) for i, req in found if req is not None]

    def _providers(self) -> list[bytes]:
        return [
            who for who in self.r.accounts if self.r.get("Providers", "Providers", who) is not None
        ]

    def protocol_step(self) -> None:
        rng, r = self.rng, self.r
        kind = rng.choices(
            ["tokens", "model", "provider", "update", "unregister", "withdraw_unbonded",
             "reputation", "request", "result", "validation", "output", "decline", "expire",
             "open", "close", "withdraw", "ticket", "settle", "verdicts"],
            weights=[4, 4, 6, 2, 1, 2, 3, 16, 12, 8, 4, 2, 2, 5, 1, 2, 10, 6, 5],
        )[0]  # fmt: skip
        models = [
            m for m in dict.fromkeys(self.models) if r.get("ModelRegistry", "Models", m) is not None
        ] or [bytes(32)]
        active = (
            [
                m
                for m in models
                if type(r.get("ModelRegistry", "Models", m).status).__name__ == "ModelActive"
            ]
            if models != [bytes(32)]
            else []
        )
        if active and rng.random() < 0.9:
            models = active
        if rng.random() < 0.05:
            models.append(bytes(32))
        providers = self._providers()
        requests = self._requests()
        by_state: dict[str, list[tuple[int, Any]]] = {}
        for item in requests:
            by_state.setdefault(type(item[1].state).__name__, []).append(item)
        if kind in ("result", "decline") and by_state.get("Assigned") and rng.random() < 0.9:
            requests = by_state["Assigned"]
        awaiting = by_state.get("AwaitingValidation")
        if kind in ("validation", "output") and awaiting and rng.random() < 0.9:
            requests = awaiting
        if kind == "tokens" or kind == "model":
            self.step()
            return
        if kind == "provider":
            newcomers = [a for a in self.r.accounts if a not in providers]
            who = rng.choice(newcomers if newcomers and rng.random() < 0.8 else self.r.accounts)
            chosen = rng.sample(models, k=min(len(models), rng.randint(1, 3)))
            args = {
                "stake": rng.choice([MIN_STAKE, 2 * MIN_STAKE, MIN_STAKE - 1, 10**17]),
                "endpoint": b"http://p%d" % rng.randrange(100),
                "models": chosen,
                "capacity": rng.choice([1, 2, 4, 16]),
                "encryption_key": rng.choice([None, key_of(who)]),
            }
            r.call("random", who, "Providers", "register_provider", expect=None, **args)
        elif kind == "update" and providers:
            who = rng.choice(providers)
            chosen = rng.sample(models, k=min(len(models), rng.randint(1, 3)))
            args = {
                "endpoint": b"http://u%d" % rng.randrange(100),
                "models": chosen,
                "capacity": rng.choice([1, 3, 8]),
                "encryption_key": rng.choice([None, key_of(who)]),
            }
            r.call("random", who, "Providers", "update_provider", expect=None, **args)
        elif kind == "unregister" and providers:
            r.call("random", rng.choice(providers), "Providers", "unregister", expect=None)
        elif kind == "withdraw_unbonded" and providers:
            r.call("random", rng.choice(providers), "Providers", "withdraw_unbonded", expect=None)
        elif kind == "reputation" and providers:
            args = {
                "who": ("Id", rng.choice(providers)),
                "reputation": rng.choice([0, 5, 50, 95, 100, 101]),
            }
            r.call("random", Origin.root(), "Providers", "set_reputation", expect=None, **args)
        elif kind == "request":
            who = rng.choice(self.r.accounts)
            data = rng.choice(
                [
                    ("Inline", b"prompt %d" % rng.randrange(10**6)),
                    ("Cid", rng.choice(self.cids)),
                    ("Inline", b""),
                ]
            )
            args = {
                "model_id": rng.choice(models),
                "input": data,
                "prompt_tokens": rng.randrange(0, 500),
                "max_tokens": rng.choice([0, 1, 16, 64, 256]),
                "max_price_per_1k_tokens": rng.choice([10**13, 2**128 - 1, 10**12]),
                "deadline_blocks": rng.choice([1, 2, 3, 5, 10, 30]),
            }
            r.call("random", who, "Inference", "request", expect=None, **args)
        elif kind == "result" and requests:
            rid, req = rng.choice(requests)
            args = {
                "request_id": rid,
                "output_hash": blake2_256(b"out %d" % rid),
                "output_cid": rng.choice([None, cid_v0(f"out{rid}")]),
                "prompt_tokens": req.prompt_tokens,
                "completion_tokens": rng.randrange(0, req.max_tokens + 2),
            }
            r.call("random", req.executor, "Inference", "submit_result", expect=None, **args)
        elif kind in ("validation", "output", "decline", "expire") and requests:
            rid, req = rng.choice(requests)
            validator = getattr(req.state, "validator", rng.choice(self.r.accounts))
            if kind == "validation":
                r.call(
                    "random",
                    validator,
                    "Inference",
                    "submit_validation",
                    expect=None,
                    request_id=rid,
                    valid=rng.random() < 0.7,
                )
            elif kind == "output":
                if rng.random() < 0.5:
                    r.call(
                        "random",
                        validator,
                        "Inference",
                        "request_output",
                        expect=None,
                        request_id=rid,
                    )
                else:
                    output = b"out %d" % rid if rng.random() < 0.8 else b"wrong"
                    r.call(
                        "random",
                        req.executor,
                        "Inference",
                        "provide_output",
                        expect=None,
                        request_id=rid,
                        output=output,
                    )
            elif kind == "decline":
                r.call("random", req.executor, "Inference", "decline", expect=None, request_id=rid)
            else:
                r.call("random", self.who(), "Inference", "expire", expect=None, request_id=rid)
        elif kind == "open" and providers:
            who, executor = rng.choice(self.r.accounts), rng.choice(providers)
            amount = rng.choice([0, 10**9, 10**12, 10**15])
            r.call(
                "random",
                who,
                "Channels",
                "open_channel",
                expect=None,
                executor=executor,
                currency_id=rng.choice((2, 2, 1)),
                amount=amount,
            )
            channel = r.get("Channels", "Channels", who, executor)
            if channel is not None and (who, executor) not in self.gateways:
                self.gateways[(who, executor)] = Gateway(self.signer, who, executor, channel.id, [])
        elif kind in ("close", "withdraw") and self.gateways:
            who, executor = rng.choice(sorted(self.gateways))
            name = "close_channel" if kind == "close" else "withdraw"
            r.call("random", who, "Channels", name, expect=None, executor=executor)
            if r.get("Channels", "Channels", who, executor) is None:
                del self.gateways[(who, executor)]
        elif kind == "ticket" and self.gateways:
            gateway = self.gateways[rng.choice(sorted(self.gateways))]
            if not gateway.models:
                gateway.models = [rng.choice(models)]
            used = rng.choice([0, 2, 50, 400])
            gateway.ticket(
                r.number + rng.choice([-1, 5, 20, 40, 60, 90]), rng.choice([10**9, 10**12, 10**14]),
                prompt_tokens=used, completion_tokens=rng.randrange(0, 40), max_tokens=40,
                max_price=rng.choice([10**13, 10**13, 10**13, 2 * 10**12, 10**12]),
            )  # fmt: skip
        elif kind == "settle" and self.gateways:
            executor = rng.choice(sorted({e for _, e in self.gateways}))
            runs = []
            for (who, ex), gateway in sorted(self.gateways.items()):
                channel = r.get("Channels", "Channels", who, ex)
                if ex != executor or channel is None or len(gateway.results) <= channel.nonce:
                    continue
                runs.append(gateway.settlement(channel.nonce + 1))
            if runs:
                r.call("random", executor, "Channels", "settle", expect=None, settlements=runs)
        elif kind == "verdicts":
            count = int(r.get("Channels", "NextDirectId"))
            checks = [
                (i, r.get("Channels", "DirectChecks", i)) for i in range(max(0, count - 30), count)
            ]
            open_checks = [(i, c) for i, c in checks if c is not None]
            if open_checks:
                _, check = rng.choice(open_checks)
                batch = [
                    (j, rng.random() < 0.8)
                    for j, c in open_checks
                    if c.validator == check.validator
                ][:4]
                r.call(
                    "random",
                    check.validator,
                    "Channels",
                    "submit_direct_validations",
                    expect=None,
                    verdicts=batch,
                )
        else:
            self.step()


def protocol(signer: Signer, steps: int = 700, seed: int = 13) -> Vector:
    """`steps` random calls over every protocol pallet, a new block every few calls."""
    r = Recorder(
        "random_protocol", ("Tokens", "ModelRegistry", "Providers", "Inference", "Channels")
    )
    rng = random.Random(seed)
    walk = _ProtocolWalk(r, rng, signer)
    r.block()
    alice, bob, charlie, dave, *_ = r.accounts
    for i, owner in enumerate((alice, bob)):
        cid = cid_v0(f"protocol{i}")
        r.call(
            "model",
            owner,
            "ModelRegistry",
            "register_model",
            **model_args(cid, currency_id=2, price_per_1k_tokens=10**12 * (i + 1)),
        )
        walk.models.append(model_id_of(Cid(cid)))
    for who in (bob, charlie, dave):
        r.call(
            "provider",
            who,
            "Providers",
            "register_provider",
            stake=2 * MIN_STAKE,
            endpoint=b"http://p",
            models=walk.models,
            capacity=8,
            encryption_key=key_of(who),
        )
    for _ in range(steps):
        if rng.random() < 0.2:
            r.block()
        walk.protocol_step()
    r.blocks_until(r.number + 25)
    return r.finish()
