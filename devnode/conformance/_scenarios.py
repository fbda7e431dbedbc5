"""The scripted scenarios: every call and every reachable error of each protocol pallet."""

from __future__ import annotations

from typing import Any

from .._hashing import blake2_256
from .._pallet import Origin
from ..pallets._cid import Cid
from ..pallets.model_registry import model_id_of
from ..pallets.tokens import EXISTENTIAL_DEPOSIT, GENESIS_ENDOWMENT
from ._vectors import Recorder, Vector

__all__ = [
    "B58_ALPHABET",
    "cid_v0",
    "fresh_account",
    "model_args",
    "model_registry",
    "tokens",
]

ED = EXISTENTIAL_DEPOSIT
ROOT = Origin.root()
NONE = Origin.none()
B58_ALPHABET = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58encode(data: bytes) -> bytes:
    number = int.from_bytes(data, "big")
    out = bytearray()
    while number:
        number, digit = divmod(number, 58)
        out.append(B58_ALPHABET[digit])
    out.extend(B58_ALPHABET[0:1] * (len(data) - len(data.lstrip(b"\0"))))
    return bytes(reversed(out))


def cid_v0(seed: str) -> bytes:
    """A valid CIDv0 (sha2-256 multihash) named by `seed`."""
    return _b58encode(b"\x12\x20" + blake2_256(b"conformance/cid/" + seed.encode()))


def fresh_account(name: str) -> bytes:
    """An account with no native balance and no key: it exists only through Tokens."""
    return blake2_256(b"conformance/account/" + name.encode())


def _id(who: bytes) -> tuple[str, bytes]:
    return ("Id", who)


def model_args(cid: bytes, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "cid": cid,
        "name": b"tiny-model",
        "task": "TextGeneration",
        "format": "Safetensors",
        "size_bytes": 16_000_000,
        "price_per_1k_tokens": 2 * 10**12,
        "currency_id": 2,
        "author_share": 200_000,
    }
    args.update(overrides)
    return args


# -- Tokens (10) ------------------------------------------------------------------------------

TOKENS_UNREACHABLE = {
    "Tokens.AmountIntoBalanceFailed": "no call converts a signed Amount (MultiCurrencyExtended is not a call)",
    "Tokens.LiquidityRestrictions": "no locks: frozen is always 0, so a withdrawal never hits a lock",
    "Tokens.MaxLocksExceeded": "no locks are ever set (set_lock is not a call)",
    "Tokens.DeadAccount": "no call of orml_tokens 1.5.0 returns it",
    "Tokens.TooManyReserves": "named reserves are not used by any call or protocol pallet",
}


def tokens() -> Vector:
    r = Recorder("tokens", ("Tokens",))
    alice, bob, charlie, dave, eve, _ferdie = r.accounts
    x, y, z = fresh_account("x"), fresh_account("y"), fresh_account("z")
    r.block()

    # transfer
    r.call(
        "to a dev account", alice, "Tokens", "transfer", dest=_id(bob), currency_id=1, amount=10**15
    )
    r.call("creates an account", alice, "Tokens", "transfer", dest=_id(x), currency_id=1, amount=ED)
    r.call("zero amount", alice, "Tokens", "transfer", dest=_id(bob), currency_id=1, amount=0)
    r.call("to self", alice, "Tokens", "transfer", dest=_id(alice), currency_id=2, amount=5 * ED)
    r.call(
        "zero to a new account", alice, "Tokens", "transfer", dest=_id(y), currency_id=1, amount=0
    )
    r.call(
        "below ED to a new account",
        alice,
        "Tokens",
        "transfer",
        dest=_id(y),
        currency_id=1,
        amount=ED - 1,
        expect="Tokens.ExistentialDeposit",
    )
    r.call(
        "more than free",
        bob,
        "Tokens",
        "transfer",
        dest=_id(alice),
        currency_id=1,
        amount=GENESIS_ENDOWMENT + 10**15 + 1,
        expect="Tokens.BalanceTooLow",
    )
    r.call(
        "unknown currency",
        bob,
        "Tokens",
        "transfer",
        dest=_id(alice),
        currency_id=7,
        amount=1,
        expect="Tokens.BalanceTooLow",
    )
    r.call(
        "from an account with nothing",
        y,
        "Tokens",
        "transfer",
        dest=_id(alice),
        currency_id=1,
        amount=ED,
        expect="Tokens.BalanceTooLow",
    )
    r.call(
        "below ED to an existing account",
        alice,
        "Tokens",
        "transfer",
        dest=_id(x),
        currency_id=1,
        amount=1,
    )
    r.call(
        "root cannot transfer",
        ROOT,
        "Tokens",
        "transfer",
        dest=_id(bob),
        currency_id=1,
        amount=1,
        expect="BadOrigin",
    )
    r.call(
        "none cannot transfer",
        NONE,
        "Tokens",
        "transfer",
        dest=_id(bob),
        currency_id=1,
        amount=1,
        expect="BadOrigin",
    )
    r.call(
        "to an Address32",
        alice,
        "Tokens",
        "transfer",
        dest=("Address32", bob),
        currency_id=1,
        amount=ED,
        expect="CannotLookup",
    )
    # x holds ED + 1: sending ED leaves 1, below ED (dust)
    r.call("leaves dust", x, "Tokens", "transfer", dest=_id(charlie), currency_id=1, amount=ED)
    r.call(
        "tops the dust up", alice, "Tokens", "transfer", dest=_id(x), currency_id=1, amount=3 * ED
    )
    r.call(
        "empties the account",
        x,
        "Tokens",
        "transfer",
        dest=_id(charlie),
        currency_id=1,
        amount=3 * ED + 1,
    )
    r.block()

    # transfer_keep_alive
    r.call(
        "keeps alive",
        alice,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(z),
        currency_id=2,
        amount=2 * ED,
    )
    r.call(
        "would leave below ED",
        z,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(alice),
        currency_id=2,
        amount=ED + 1,
        expect="Tokens.KeepAlive",
    )
    r.call(
        "would empty",
        z,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(alice),
        currency_id=2,
        amount=2 * ED,
        expect="Tokens.KeepAlive",
    )
    r.call(
        "leaves exactly ED",
        z,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(alice),
        currency_id=2,
        amount=ED,
    )
    r.call(
        "more than free",
        z,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(alice),
        currency_id=2,
        amount=2 * ED,
        expect="Tokens.BalanceTooLow",
    )
    r.call(
        "below ED to a new account",
        alice,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(y),
        currency_id=2,
        amount=ED // 2,
        expect="Tokens.ExistentialDeposit",
    )
    r.call("zero", z, "Tokens", "transfer_keep_alive", dest=_id(alice), currency_id=2, amount=0)
    r.call(
        "root cannot",
        ROOT,
        "Tokens",
        "transfer_keep_alive",
        dest=_id(alice),
        currency_id=2,
        amount=1,
        expect="BadOrigin",
    )

    # transfer_all
    r.call(
        "keep alive: nothing above ED",
        z,
        "Tokens",
        "transfer_all",
        dest=_id(alice),
        currency_id=2,
        keep_alive=True,
    )
    r.call("funds y", alice, "Tokens", "transfer", dest=_id(y), currency_id=2, amount=5 * ED + 7)
    r.call(
        "keep alive leaves ED",
        y,
        "Tokens",
        "transfer_all",
        dest=_id(bob),
        currency_id=2,
        keep_alive=True,
    )
    r.call(
        "everything", y, "Tokens", "transfer_all", dest=_id(bob), currency_id=2, keep_alive=False
    )
    r.call(
        "an empty account",
        y,
        "Tokens",
        "transfer_all",
        dest=_id(bob),
        currency_id=2,
        keep_alive=False,
    )
    r.call(
        "all of a dev account",
        eve,
        "Tokens",
        "transfer_all",
        dest=_id(dave),
        currency_id=1,
        keep_alive=False,
    )
    r.call(
        "back", dave, "Tokens", "transfer", dest=_id(eve), currency_id=1, amount=GENESIS_ENDOWMENT
    )
    r.call("to self", bob, "Tokens", "transfer_all", dest=_id(bob), currency_id=1, keep_alive=False)
    r.call(
        "unsigned",
        NONE,
        "Tokens",
        "transfer_all",
        dest=_id(bob),
        currency_id=1,
        keep_alive=True,
        expect="BadOrigin",
    )
    r.block()

    # force_transfer
    r.call(
        "root moves funds",
        ROOT,
        "Tokens",
        "force_transfer",
        source=_id(bob),
        dest=_id(charlie),
        currency_id=1,
        amount=10**12,
    )
    r.call(
        "root, too much",
        ROOT,
        "Tokens",
        "force_transfer",
        source=_id(y),
        dest=_id(charlie),
        currency_id=1,
        amount=1,
        expect="Tokens.BalanceTooLow",
    )
    r.call(
        "root, below ED to a new account",
        ROOT,
        "Tokens",
        "force_transfer",
        source=_id(bob),
        dest=_id(y),
        currency_id=1,
        amount=5,
        expect="Tokens.ExistentialDeposit",
    )
    r.call(
        "root, leaves dust",
        ROOT,
        "Tokens",
        "force_transfer",
        source=_id(bob),
        dest=_id(z),
        currency_id=1,
        amount=ED,
    )
    r.call(
        "signed cannot",
        alice,
        "Tokens",
        "force_transfer",
        source=_id(bob),
        dest=_id(alice),
        currency_id=1,
        amount=1,
        expect="BadOrigin",
    )
    r.call(
        "root, zero",
        ROOT,
        "Tokens",
        "force_transfer",
        source=_id(bob),
        dest=_id(y),
        currency_id=1,
        amount=0,
    )

    # set_balance
    r.call(
        "raises",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(alice),
        currency_id=1,
        new_free=2 * GENESIS_ENDOWMENT,
        new_reserved=0,
    )
    r.call(
        "lowers",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(bob),
        currency_id=2,
        new_free=10**15,
        new_reserved=0,
    )
    r.call(
        "with a reserve",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(charlie),
        currency_id=2,
        new_free=10**15,
        new_reserved=10**14,
    )
    r.call(
        "creates an account",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(y),
        currency_id=1,
        new_free=3 * ED,
        new_reserved=0,
    )
    r.call(
        "below ED: reaped",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(y),
        currency_id=1,
        new_free=ED - 1,
        new_reserved=0,
    )
    r.call(
        "below ED, new account",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(y),
        currency_id=2,
        new_free=10,
        new_reserved=10,
    )
    r.call(
        "a new currency",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(dave),
        currency_id=3,
        new_free=10**18,
        new_reserved=0,
    )
    r.call(
        "zero",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(dave),
        currency_id=3,
        new_free=0,
        new_reserved=0,
    )
    r.call(
        "overflow",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(eve),
        currency_id=1,
        new_free=2**127,
        new_reserved=2**127,
        expect="Arithmetic.Overflow",
    )
    r.call(
        "issuance overflow",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(eve),
        currency_id=1,
        new_free=2**128 - 1,
        new_reserved=0,
        expect="Arithmetic.Overflow",
    )
    r.call(
        "signed cannot",
        alice,
        "Tokens",
        "set_balance",
        who=_id(alice),
        currency_id=1,
        new_free=1,
        new_reserved=0,
        expect="BadOrigin",
    )
    # a reserve makes the keep-alive arithmetic count reserved balance
    r.call(
        "a reserved-only account",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(x),
        currency_id=2,
        new_free=ED,
        new_reserved=2 * ED,
    )
    r.call(
        "keep alive with a reserve",
        x,
        "Tokens",
        "transfer_all",
        dest=_id(alice),
        currency_id=2,
        keep_alive=True,
    )
    r.call(
        "then a dust-free transfer",
        ROOT,
        "Tokens",
        "set_balance",
        who=_id(x),
        currency_id=2,
        new_free=ED,
        new_reserved=0,
    )
    r.call(
        "keep alive without a reserve",
        x,
        "Tokens",
        "transfer_all",
        dest=_id(alice),
        currency_id=2,
        keep_alive=True,
    )
    r.block()
    return r.finish(TOKENS_UNREACHABLE)


# -- ModelRegistry (11) -----------------------------------------------------------------------

REGISTRY_UNREACHABLE = {
    "ModelRegistry.InvalidAuthorShare": (
        "author_share is a Permill, whose SCALE decoding rejects values above 1_000_000: such a "
        "call does not decode (an invalid transaction); see the undecodable step"
    ),
}


def _permill_call(r: Recorder, cid: bytes, share: int) -> bytes:
    """register_model's encoding with a raw u32 author_share (above 1_000_000 on purpose)."""
    good = bytes(
        r.runtime.encode_call("ModelRegistry", "register_model", model_args(cid, author_share=0))
    )
    return good[:-4] + share.to_bytes(4, "little")


def model_registry() -> Vector:
    r = Recorder("model_registry", ("Tokens", "ModelRegistry"))
    alice, bob, charlie, *_ = r.accounts
    r.block()
    cid_a, cid_b, cid_c = cid_v0("a"), cid_v0("b"), cid_v0("c")
    cid_v1 = b"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    cid_raw = b"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    model_a, model_b = model_id_of(Cid(cid_a)), model_id_of(Cid(cid_b))
    reg = "register_model"

    r.call("v0", alice, "ModelRegistry", reg, **model_args(cid_a))
    r.call(
        "v1, other task and format",
        bob,
        "ModelRegistry",
        reg,
        **model_args(
            cid_v1, task="Embedding", format="Onnx", currency_id=1, author_share=1_000_000
        ),
    )
    r.call(
        "raw v1, zero price and share",
        charlie,
        "ModelRegistry",
        reg,
        **model_args(cid_raw, task="Other", format="Gguf", price_per_1k_tokens=0, author_share=0),
    )
    r.call(
        "duplicate",
        bob,
        "ModelRegistry",
        reg,
        **model_args(cid_a),
        expect="ModelRegistry.DuplicateCid",
    )
    r.call(
        "invalid cid",
        alice,
        "ModelRegistry",
        reg,
        **model_args(b"QmNotAValidCid"),
        expect="ModelRegistry.InvalidCid",
    )
    r.call(
        "empty cid",
        alice,
        "ModelRegistry",
        reg,
        **model_args(b""),
        expect="ModelRegistry.InvalidCid",
    )
    r.call(
        "upper-case v1",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_v1.upper()),
        expect="ModelRegistry.InvalidCid",
    )
    r.call(
        "cid too long",
        alice,
        "ModelRegistry",
        reg,
        **model_args(b"b" * 129),
        expect="ModelRegistry.CidTooLong",
    )
    r.call(
        "cid too long and invalid",
        alice,
        "ModelRegistry",
        reg,
        **model_args(b"!" * 200),
        expect="ModelRegistry.CidTooLong",
    )
    r.call(
        "empty name",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_b, name=b""),
        expect="ModelRegistry.EmptyName",
    )
    r.call(
        "name too long",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_b, name=b"n" * 65),
        expect="ModelRegistry.NameTooLong",
    )
    r.call(
        "name of 64",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_b, name=b"n" * 64, task="SpeechToText"),
    )
    r.call(
        "zero size",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_c, size_bytes=0),
        expect="ModelRegistry.ZeroSize",
    )
    r.call(
        "unknown currency",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_c, currency_id=9),
        expect="ModelRegistry.UnknownCurrency",
    )
    r.call(
        "native currency id 0",
        alice,
        "ModelRegistry",
        reg,
        **model_args(cid_c, currency_id=0),
        expect="ModelRegistry.UnknownCurrency",
    )
    r.undecodable(
        "ModelRegistry.register_model author_share above 100%",
        alice,
        _permill_call(r, cid_c, 1_000_001),
    )
    r.undecodable(
        "ModelRegistry.register_model author_share u32::MAX",
        alice,
        _permill_call(r, cid_c, 2**32 - 1),
    )
    r.call("unsigned", NONE, "ModelRegistry", reg, **model_args(cid_c), expect="BadOrigin")
    r.call("root", ROOT, "ModelRegistry", reg, **model_args(cid_c), expect="BadOrigin")
    r.block()

    # update_model
    r.call(
        "new version",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_c,
        size_bytes=17_000_000,
    )
    r.call(
        "old cid",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_a,
        size_bytes=1,
        expect="ModelRegistry.DuplicateCid",
    )
    r.call(
        "not owner",
        bob,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_v0("d"),
        size_bytes=1,
        expect="ModelRegistry.NotOwner",
    )
    r.call(
        "unknown model",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=bytes(32),
        new_cid=cid_v0("d"),
        size_bytes=1,
        expect="ModelRegistry.UnknownModel",
    )
    r.call(
        "invalid cid",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=b"Qm",
        size_bytes=1,
        expect="ModelRegistry.InvalidCid",
    )
    r.call(
        "cid too long",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=b"Q" * 300,
        size_bytes=1,
        expect="ModelRegistry.CidTooLong",
    )
    r.call(
        "zero size",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_v0("d"),
        size_bytes=0,
        expect="ModelRegistry.ZeroSize",
    )
    r.call(
        "third version",
        alice,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_v0("d"),
        size_bytes=2**64 - 1,
    )
    r.call(
        "unsigned",
        NONE,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_v0("e"),
        size_bytes=1,
        expect="BadOrigin",
    )

    # set_price
    r.call(
        "new price",
        alice,
        "ModelRegistry",
        "set_price",
        model_id=model_a,
        price_per_1k_tokens=2**128 - 1,
        currency_id=1,
    )
    r.call(
        "unknown currency",
        alice,
        "ModelRegistry",
        "set_price",
        model_id=model_a,
        price_per_1k_tokens=1,
        currency_id=5,
        expect="ModelRegistry.UnknownCurrency",
    )
    r.call(
        "not owner",
        charlie,
        "ModelRegistry",
        "set_price",
        model_id=model_a,
        price_per_1k_tokens=1,
        currency_id=1,
        expect="ModelRegistry.NotOwner",
    )
    r.call(
        "unknown model",
        alice,
        "ModelRegistry",
        "set_price",
        model_id=blake2_256(b"x"),
        price_per_1k_tokens=1,
        currency_id=1,
        expect="ModelRegistry.UnknownModel",
    )
    r.call(
        "root",
        ROOT,
        "ModelRegistry",
        "set_price",
        model_id=model_a,
        price_per_1k_tokens=1,
        currency_id=1,
        expect="BadOrigin",
    )
    r.block()

    # transfer_ownership and deprecate_model
    r.call(
        "to bob", alice, "ModelRegistry", "transfer_ownership", model_id=model_a, new_owner=_id(bob)
    )
    r.call(
        "old owner",
        alice,
        "ModelRegistry",
        "transfer_ownership",
        model_id=model_a,
        new_owner=_id(alice),
        expect="ModelRegistry.NotOwner",
    )
    r.call(
        "unknown model",
        alice,
        "ModelRegistry",
        "transfer_ownership",
        model_id=bytes(32),
        new_owner=_id(alice),
        expect="ModelRegistry.UnknownModel",
    )
    r.call(
        "to an Address32",
        bob,
        "ModelRegistry",
        "transfer_ownership",
        model_id=model_a,
        new_owner=("Address32", alice),
        expect="CannotLookup",
    )
    r.call(
        "to self", bob, "ModelRegistry", "transfer_ownership", model_id=model_a, new_owner=_id(bob)
    )
    r.call(
        "not owner",
        alice,
        "ModelRegistry",
        "deprecate_model",
        model_id=model_a,
        expect="ModelRegistry.NotOwner",
    )
    r.call(
        "unknown model",
        alice,
        "ModelRegistry",
        "deprecate_model",
        model_id=bytes(32),
        expect="ModelRegistry.UnknownModel",
    )
    r.call("by the new owner", bob, "ModelRegistry", "deprecate_model", model_id=model_a)
    r.call(
        "twice",
        bob,
        "ModelRegistry",
        "deprecate_model",
        model_id=model_a,
        expect="ModelRegistry.ModelDeprecated",
    )
    r.call(
        "deprecated",
        bob,
        "ModelRegistry",
        "update_model",
        model_id=model_a,
        new_cid=cid_v0("f"),
        size_bytes=1,
        expect="ModelRegistry.ModelDeprecated",
    )
    r.call(
        "deprecated",
        bob,
        "ModelRegistry",
        "set_price",
        model_id=model_a,
        price_per_1k_tokens=1,
        currency_id=1,
        expect="ModelRegistry.ModelDeprecated",
    )
    r.call(
        "deprecated, not owner",
        alice,
        "ModelRegistry",
        "set_price",
        model_id=model_a,
        price_per_1k_tokens=1,
        currency_id=1,
        expect="ModelRegistry.NotOwner",
    )
    r.call(
        "a deprecated model",
        bob,
        "ModelRegistry",
        "transfer_ownership",
        model_id=model_a,
        new_owner=_id(charlie),
    )
    r.call(
        "unsigned", NONE, "ModelRegistry", "deprecate_model", model_id=model_b, expect="BadOrigin"
    )
    r.call("other model", alice, "ModelRegistry", "deprecate_model", model_id=model_b)
    r.block()
    return r.finish(REGISTRY_UNREACHABLE)
