"""Seeded random call sequences: the same sequence (and so the same bytes) on every run."""

from __future__ import annotations

import random
from typing import Any

from .._pallet import Origin
from ..pallets.model_registry import model_id_of
from ..pallets.tokens import EXISTENTIAL_DEPOSIT, TokenAccount
from ._scenarios import cid_v0, fresh_account, model_args
from ._vectors import Recorder, Vector

__all__ = ["tokens_registry"]

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
            self.models.append(model_id_of(cid))  # type: ignore[arg-type]
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
