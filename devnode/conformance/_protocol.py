"""The scripted scenarios of Providers (12) and Inference (13)."""

from __future__ import annotations

from typing import Any

from .._hashing import blake2_256
from .._pallet import Origin
from ..pallets._cid import Cid
from ..pallets.model_registry import model_id_of
from ..pallets.providers import MIN_STAKE
from ._scenarios import cid_v0, fresh_account, model_args
from ._vectors import Recorder, Vector

__all__ = ["inference", "providers"]

ROOT = Origin.root()
NONE = Origin.none()
PRICE = 2 * 10**12


def key_of(who: bytes) -> bytes:
    """A provider's (stand-in) X25519 public key: any non-zero 32 bytes."""
    return blake2_256(b"conformance/x25519/" + who)


def register_model(r: Recorder, owner: bytes, seed: str, **overrides: Any) -> bytes:
    cid = cid_v0(seed)
    r.call(
        f"model {seed}", owner, "ModelRegistry", "register_model", **model_args(cid, **overrides)
    )
    return bytes(model_id_of(Cid(cid)))


def provider_args(models: list[bytes], **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "stake": MIN_STAKE,
        "endpoint": b"http://provider.example:8000",
        "models": models,
        "capacity": 8,
        "encryption_key": None,
    }
    args.update(overrides)
    return args


def register_provider(r: Recorder, who: bytes, models: list[bytes], **overrides: Any) -> None:
    r.call("provider", who, "Providers", "register_provider", **provider_args(models, **overrides))


def fund(r: Recorder, who: bytes, currency: int, amount: int) -> None:
    r.call(
        "fund",
        ROOT,
        "Tokens",
        "set_balance",
        who=("Id", who),
        currency_id=currency,
        new_free=amount,
        new_reserved=0,
    )


# -- Providers (12) ---------------------------------------------------------------------------


def providers() -> Vector:
    r = Recorder("providers", ("Tokens", "ModelRegistry", "Providers", "Inference"))
    alice, bob, charlie, dave, eve, ferdie = r.accounts
    r.block()
    m1 = register_model(r, alice, "p1")
    m2 = register_model(r, alice, "p2")
    m3 = register_model(r, alice, "p3")
    reg = "register_provider"

    def args(**overrides: Any) -> dict[str, Any]:
        return provider_args([m1], **overrides)

    r.call(
        "stake below the minimum",
        bob,
        "Providers",
        reg,
        **args(stake=MIN_STAKE - 1),
        expect="Providers.InsufficientStake",
    )
    r.call(
        "empty endpoint",
        bob,
        "Providers",
        reg,
        **args(endpoint=b""),
        expect="Providers.EmptyEndpoint",
    )
    r.call(
        "endpoint too long",
        bob,
        "Providers",
        reg,
        **args(endpoint=b"e" * 257),
        expect="Providers.EndpointTooLong",
    )
    r.call("no models", bob, "Providers", reg, **provider_args([]), expect="Providers.NoModels")
    many = [blake2_256(b"m%d" % i) for i in range(17)]
    r.call(
        "too many models",
        bob,
        "Providers",
        reg,
        **provider_args(many),
        expect="Providers.TooManyModels",
    )
    r.call(
        "duplicate model",
        bob,
        "Providers",
        reg,
        **provider_args([m1, m2, m1]),
        expect="Providers.DuplicateModel",
    )
    r.call(
        "unknown model",
        bob,
        "Providers",
        reg,
        **provider_args([m1, bytes(32)]),
        expect="Providers.UnknownModel",
    )
    r.call(
        "zero capacity",
        bob,
        "Providers",
        reg,
        **args(capacity=0),
        expect="Providers.InvalidCapacity",
    )
    r.call(
        "capacity too large",
        bob,
        "Providers",
        reg,
        **args(capacity=1025),
        expect="Providers.InvalidCapacity",
    )
    r.call(
        "all-zero key",
        bob,
        "Providers",
        reg,
        **args(encryption_key=bytes(32)),
        expect="Providers.InvalidEncryptionKey",
    )
    r.call(
        "stake above the balance",
        bob,
        "Providers",
        reg,
        **args(stake=2 * 10**18),
        expect="Tokens.BalanceTooLow",
    )
    r.call("unsigned", NONE, "Providers", reg, **args(), expect="BadOrigin")
    r.call(
        "with a key",
        bob,
        "Providers",
        reg,
        **args(encryption_key=key_of(bob), capacity=1024, endpoint=b"e" * 256),
    )
    r.call("again", bob, "Providers", reg, **args(), expect="Providers.AlreadyRegistered")
    r.call(
        "no key, two models",
        charlie,
        "Providers",
        reg,
        **provider_args([m1, m2], stake=3 * MIN_STAKE, capacity=1),
    )
    r.call(
        "only provider of m3",
        dave,
        "Providers",
        reg,
        **provider_args([m3], stake=MIN_STAKE + 10**12 - 1),
    )
    r.block()

    # update_provider
    up = "update_provider"
    r.call(
        "rotates the key and the models",
        bob,
        "Providers",
        up,
        endpoint=b"http://b",
        models=[m2, m1],
        capacity=4,
        encryption_key=key_of(alice),
    )
    r.call(
        "drops the key",
        bob,
        "Providers",
        up,
        endpoint=b"http://b",
        models=[m1],
        capacity=4,
        encryption_key=None,
    )
    r.call(
        "not registered",
        eve,
        "Providers",
        up,
        endpoint=b"http://e",
        models=[m1],
        capacity=1,
        encryption_key=None,
        expect="Providers.NotRegistered",
    )
    r.call(
        "empty endpoint",
        bob,
        "Providers",
        up,
        endpoint=b"",
        models=[m1],
        capacity=1,
        encryption_key=None,
        expect="Providers.EmptyEndpoint",
    )
    r.call(
        "zero key",
        bob,
        "Providers",
        up,
        endpoint=b"x",
        models=[m1],
        capacity=1,
        encryption_key=bytes(32),
        expect="Providers.InvalidEncryptionKey",
    )
    r.call(
        "unknown model",
        bob,
        "Providers",
        up,
        endpoint=b"x",
        models=[blake2_256(b"none")],
        capacity=1,
        encryption_key=None,
        expect="Providers.UnknownModel",
    )
    r.call(
        "root",
        ROOT,
        "Providers",
        up,
        endpoint=b"x",
        models=[m1],
        capacity=1,
        encryption_key=None,
        expect="BadOrigin",
    )

    # set_reputation
    sr = "set_reputation"
    r.call("raises", ROOT, "Providers", sr, who=("Id", bob), reputation=50)
    r.call("the same", ROOT, "Providers", sr, who=("Id", bob), reputation=50)
    r.call("to 100", ROOT, "Providers", sr, who=("Id", charlie), reputation=100)
    r.call(
        "above 100",
        ROOT,
        "Providers",
        sr,
        who=("Id", bob),
        reputation=101,
        expect="Providers.InvalidReputation",
    )
    r.call(
        "not registered",
        ROOT,
        "Providers",
        sr,
        who=("Id", eve),
        reputation=1,
        expect="Providers.NotRegistered",
    )
    r.call("signed", alice, "Providers", sr, who=("Id", bob), reputation=1, expect="BadOrigin")
    r.call(
        "an Address32",
        ROOT,
        "Providers",
        sr,
        who=("Address32", bob),
        reputation=1,
        expect="CannotLookup",
    )

    # unregister and withdraw_unbonded
    r.call("starts unbonding", charlie, "Providers", "unregister")
    r.call("again", charlie, "Providers", "unregister", expect="Providers.NotActive")
    r.call(
        "while unbonding",
        charlie,
        "Providers",
        up,
        endpoint=b"x",
        models=[m1],
        capacity=1,
        encryption_key=None,
        expect="Providers.NotActive",
    )
    r.call("not registered", eve, "Providers", "unregister", expect="Providers.NotRegistered")
    r.call("unsigned", NONE, "Providers", "unregister", expect="BadOrigin")
    r.call("reputation while unbonding", ROOT, "Providers", sr, who=("Id", charlie), reputation=7)
    r.call(
        "still unbonding",
        charlie,
        "Providers",
        "withdraw_unbonded",
        expect="Providers.StillUnbonding",
    )
    r.call("active", bob, "Providers", "withdraw_unbonded", expect="Providers.NotUnbonding")
    r.call(
        "not registered", eve, "Providers", "withdraw_unbonded", expect="Providers.NotRegistered"
    )
    r.call("unsigned", NONE, "Providers", "withdraw_unbonded", expect="BadOrigin")

    # A request in flight on dave (the only provider of m3) holds its stake.
    r.call(
        "on m3",
        eve,
        "Inference",
        "request",
        model_id=m3,
        input=("Inline", b"hello"),
        prompt_tokens=3,
        max_tokens=5,
        max_price_per_1k_tokens=PRICE,
        deadline_blocks=100,
    )
    r.call("dave leaves", dave, "Providers", "unregister")
    r.blocks_until(r.number + 9)
    r.call(
        "one block early",
        charlie,
        "Providers",
        "withdraw_unbonded",
        expect="Providers.StillUnbonding",
    )
    r.block()
    r.call("after unbonding", charlie, "Providers", "withdraw_unbonded")
    r.call("gone", charlie, "Providers", "withdraw_unbonded", expect="Providers.NotRegistered")
    r.blocks_until(r.number + 1)
    r.call(
        "a request in flight",
        dave,
        "Providers",
        "withdraw_unbonded",
        expect="Providers.RequestsInFlight",
    )
    r.call(
        "dave finishes it",
        dave,
        "Inference",
        "submit_result",
        request_id=0,
        output_hash=blake2_256(b"out"),
        output_cid=None,
        prompt_tokens=3,
        completion_tokens=5,
    )
    r.call("then withdraws", dave, "Providers", "withdraw_unbonded")
    r.block()

    # ModelFull: 64 providers on m2 (charlie left it), the 65th is refused.
    listed = len(r.get("Providers", "ModelProviders", m2))
    for i in range(64 - listed):
        who = fresh_account(f"provider{i}")
        fund(r, who, 1, 2 * MIN_STAKE)
        register_provider(r, who, [m2], capacity=1 + i % 3, stake=MIN_STAKE + i * 10**12)
        if i % 16 == 15:
            r.block()
    late = fresh_account("provider-late")
    fund(r, late, 1, 2 * MIN_STAKE)
    r.call("the 65th", late, "Providers", reg, **provider_args([m2]), expect="Providers.ModelFull")
    r.call(
        "ferdie, the 65th",
        ferdie,
        "Providers",
        reg,
        **provider_args([m1, m2]),
        expect="Providers.ModelFull",
    )
    r.call(
        "bob joins m2 by update",
        bob,
        "Providers",
        up,
        endpoint=b"http://b",
        models=[m1, m2],
        capacity=4,
        encryption_key=None,
        expect="Providers.ModelFull",
    )
    r.block()
    return r.finish()


# -- Inference (13) ---------------------------------------------------------------------------

INFERENCE_UNREACHABLE = {
    "Inference.DeadlinePassed": (
        "on_initialize of block deadline + 1 always expires an Assigned request (its id is in "
        "Timeouts[deadline + 1], or the request was refused with TooManyTimeouts), so by the "
        "time now > deadline the request is no longer Assigned and submit_result fails with "
        "InvalidState"
    ),
}


def _sealed(commitment: bytes, wraps: list[tuple[bytes, bytes]], payload: bytes) -> dict[str, Any]:
    return {
        "commitment": commitment,
        "output_key": blake2_256(b"output key" + commitment),
        "wraps": [{"provider": who, "wrapped": wrapped} for who, wrapped in wraps],
        "payload": payload,
    }


def inference() -> Vector:
    r = Recorder("inference", ("Tokens", "ModelRegistry", "Providers", "Inference"))
    alice, bob, charlie, dave, eve, ferdie = r.accounts
    r.block()
    m = register_model(r, alice, "i1", author_share=250_000)
    gone = register_model(r, alice, "i-deprecated")
    r.call("deprecated", alice, "ModelRegistry", "deprecate_model", model_id=gone)
    lonely = register_model(r, alice, "i-lonely")
    for who in (bob, charlie):
        register_provider(
            r, who, [m, lonely] if who == bob else [m], capacity=1024, encryption_key=key_of(who)
        )
    register_provider(r, dave, [m], capacity=1024)
    r.block()

    def request(label: str, who: Origin | bytes, expect: str = "ok", **overrides: Any) -> int:
        rid = int(r.get("Inference", "NextRequestId"))
        args: dict[str, Any] = {
            "model_id": m,
            "input": ("Inline", b"What is 2 + 2?"),
            "prompt_tokens": 8,
            "max_tokens": 32,
            "max_price_per_1k_tokens": PRICE,
            "deadline_blocks": 10,
        }
        args.update(overrides)
        r.call(label, who, "Inference", "request", expect=expect, **args)
        return rid

    def req(rid: int) -> Any:
        return r.get("Inference", "Requests", rid)

    wraps = [(bob, b"w" * 80), (charlie, b"w" * 80), (dave, b"w" * 80)]
    # request: every refusal, in devnode's check order
    request("unknown model", eve, "Inference.UnknownModel", model_id=bytes(32))
    request("deprecated model", eve, "Inference.ModelDeprecated", model_id=gone)
    request(
        "price above the maximum",
        eve,
        "Inference.PriceAboveMaximum",
        max_price_per_1k_tokens=PRICE - 1,
    )
    request(
        "no recipients",
        eve,
        "Inference.NoRecipients",
        input=("SealedInline", _sealed(blake2_256(b"c0"), [], b"x")),
    )
    too_many = [(fresh_account(f"w{i}"), b"w") for i in range(65)]
    request(
        "too many recipients",
        eve,
        "Inference.TooManyRecipients",
        input=("SealedInline", _sealed(blake2_256(b"c0"), too_many, b"x")),
    )
    request(
        "duplicate recipient",
        eve,
        "Inference.DuplicateRecipient",
        input=("SealedInline", _sealed(blake2_256(b"c0"), [(bob, b"a"), (bob, b"b")], b"x")),
    )
    request(
        "key wrap too long",
        eve,
        "Inference.KeyWrapTooLong",
        input=("SealedCid", _sealed(blake2_256(b"c0"), [(bob, b"w" * 129)], cid_v0("x"))),
    )
    request("empty inline", eve, "Inference.EmptyInput", input=("Inline", b""))
    request("empty cid", eve, "Inference.EmptyInput", input=("Cid", b""))
    request(
        "empty sealed payload",
        eve,
        "Inference.EmptyInput",
        input=("SealedInline", _sealed(blake2_256(b"c0"), wraps, b"")),
    )
    request("inline too large", eve, "Inference.InputTooLarge", input=("Inline", b"i" * 1025))
    request(
        "sealed inline too large",
        eve,
        "Inference.InputTooLarge",
        input=("SealedInline", _sealed(blake2_256(b"c0"), wraps, b"s" * 1153)),
    )
    request("invalid cid", eve, "Inference.InvalidCid", input=("Cid", b"QmNotACid"))
    request(
        "invalid sealed cid",
        eve,
        "Inference.InvalidCid",
        input=("SealedCid", _sealed(blake2_256(b"c0"), wraps, b"b" * 200)),
    )
    request("zero max_tokens", eve, "Inference.InvalidTokenCount", max_tokens=0)
    request(
        "too many tokens",
        eve,
        "Inference.InvalidTokenCount",
        prompt_tokens=50_001,
        max_tokens=50_000,
    )
    request("deadline too short", eve, "Inference.InvalidDeadline", deadline_blocks=1)
    request("deadline too long", eve, "Inference.InvalidDeadline", deadline_blocks=601)
    request(
        "the requester is the only provider", bob, "Inference.NoProviderAvailable", model_id=lonely
    )
    request(
        "sealed to nobody with a key",
        eve,
        "Inference.NoProviderAvailable",
        input=("SealedInline", _sealed(blake2_256(b"c0"), [(dave, b"w")], b"x")),
    )
    request("more bandwidth than any share", eve, "Inference.BandwidthExceeded", max_tokens=99_000)
    poor = fresh_account("poor")
    fund(r, poor, 2, 10**6)
    request("escrow above the balance", poor, "Tokens.BalanceTooLow")
    request("unsigned", NONE, "BadOrigin")

    # request: every input kind
    inline = request("inline", eve)
    by_cid = request(
        "cid",
        eve,
        input=("Cid", cid_v0("prompt")),
        prompt_tokens=100,
        max_tokens=200,
        deadline_blocks=2,
    )
    sealed_commitment = blake2_256(b"genai-input" + b"salt" + b"prompt")
    sealed = request(
        "sealed inline",
        ferdie,
        input=("SealedInline", _sealed(sealed_commitment, wraps, b"s" * 1152)),
        deadline_blocks=600,
    )
    request(
        "the same commitment",
        ferdie,
        "Inference.InputReplayed",
        input=("SealedCid", _sealed(sealed_commitment, wraps, cid_v0("s"))),
    )
    sealed_cid = request(
        "sealed cid",
        ferdie,
        input=("SealedCid", _sealed(blake2_256(b"c2"), wraps[:2], cid_v0("s"))),
        max_price_per_1k_tokens=2**128 - 1,
    )
    declined = request("to decline", eve, max_tokens=1, prompt_tokens=0)
    to_expire = request("to expire", alice, deadline_blocks=2)
    r.block()

    # submit_result
    sr = "submit_result"
    out = blake2_256(b"the output")

    def result(
        label: str, who: Origin | bytes, rid: int, expect: str = "ok", **overrides: Any
    ) -> None:
        args: dict[str, Any] = {
            "request_id": rid,
            "output_hash": out,
            "output_cid": None,
            "prompt_tokens": 8,
            "completion_tokens": 30,
        }
        args.update(overrides)
        r.call(label, who, "Inference", sr, expect=expect, **args)

    ex = req(inline).executor
    other = next(p for p in (bob, charlie, dave) if p != ex)
    result("unknown request", ex, 999, "Inference.UnknownRequest")
    result("not the executor", other, inline, "Inference.NotExecutor")
    result("more than max_tokens", ex, inline, "Inference.InvalidTokenCount", completion_tokens=33)
    result("bad output cid", ex, inline, "Inference.InvalidCid", output_cid=b"Qm")
    result("unsigned", NONE, inline, "BadOrigin")
    result("with an output cid", ex, inline, output_cid=cid_v0("output"))
    result("twice", ex, inline, "Inference.InvalidState")

    # decline
    dex = req(declined).executor
    r.call(
        "not the executor",
        next(p for p in (bob, charlie, dave) if p != dex),
        "Inference",
        "decline",
        request_id=declined,
        expect="Inference.NotExecutor",
    )
    r.call(
        "unknown", dex, "Inference", "decline", request_id=12345, expect="Inference.UnknownRequest"
    )
    r.call("by the executor", dex, "Inference", "decline", request_id=declined)
    r.call(
        "twice", dex, "Inference", "decline", request_id=declined, expect="Inference.InvalidState"
    )
    r.call("unsigned", NONE, "Inference", "decline", request_id=declined, expect="BadOrigin")

    # expire: nothing is due until on_initialize has already handled it
    r.call(
        "not due", eve, "Inference", "expire", request_id=to_expire, expect="Inference.NotExpired"
    )
    r.call("unknown", eve, "Inference", "expire", request_id=777, expect="Inference.UnknownRequest")
    r.call("unsigned", NONE, "Inference", "expire", request_id=to_expire, expect="BadOrigin")

    # validation of `inline` (reputation 0: always sampled when another provider exists)
    state = req(inline).state
    validator = state.validator
    bystander = next(p for p in (alice, bob, charlie, dave, eve) if p not in (validator, ex))
    r.call(
        "on an Assigned request",
        validator,
        "Inference",
        "submit_validation",
        request_id=by_cid,
        valid=True,
        expect="Inference.InvalidState",
    )
    r.call(
        "not the validator",
        bystander,
        "Inference",
        "submit_validation",
        request_id=inline,
        valid=True,
        expect="Inference.NotValidator",
    )
    r.call(
        "unknown",
        validator,
        "Inference",
        "submit_validation",
        request_id=4242,
        valid=True,
        expect="Inference.UnknownRequest",
    )
    r.call(
        "on an Assigned request",
        validator,
        "Inference",
        "request_output",
        request_id=by_cid,
        expect="Inference.InvalidState",
    )
    r.call(
        "not the validator",
        bystander,
        "Inference",
        "request_output",
        request_id=inline,
        expect="Inference.NotValidator",
    )
    r.call(
        "not requested",
        ex,
        "Inference",
        "provide_output",
        request_id=inline,
        output=b"the output",
        expect="Inference.InvalidState",
    )
    r.call("asks for the output", validator, "Inference", "request_output", request_id=inline)
    r.call(
        "again",
        validator,
        "Inference",
        "request_output",
        request_id=inline,
        expect="Inference.OutputAlreadyRequested",
    )
    r.call(
        "not the executor",
        bystander,
        "Inference",
        "provide_output",
        request_id=inline,
        output=b"the output",
        expect="Inference.NotExecutor",
    )
    r.call(
        "unknown",
        ex,
        "Inference",
        "provide_output",
        request_id=999,
        output=b"x",
        expect="Inference.UnknownRequest",
    )
    r.call(
        "too large",
        ex,
        "Inference",
        "provide_output",
        request_id=inline,
        output=b"o" * 65_537,
        expect="Inference.OutputTooLarge",
    )
    r.call(
        "wrong output",
        ex,
        "Inference",
        "provide_output",
        request_id=inline,
        output=b"another output",
        expect="Inference.OutputHashMismatch",
    )
    r.call("the output", ex, "Inference", "provide_output", request_id=inline, output=b"the output")
    r.call("passes", validator, "Inference", "submit_validation", request_id=inline, valid=True)
    r.call(
        "after the verdict",
        validator,
        "Inference",
        "submit_validation",
        request_id=inline,
        valid=True,
        expect="Inference.InvalidState",
    )

    # a sealed result that fails validation: slash, refund
    sex = req(sealed).executor
    result(
        "sealed",
        sex,
        sealed,
        output_cid=cid_v0("sealed output"),
        prompt_tokens=300,
        completion_tokens=32,
    )
    if r.get("Inference", "Requests", sealed).state.__class__.__name__ == "AwaitingValidation":
        sval = req(sealed).state.validator
        r.call("asks for the sealed output", sval, "Inference", "request_output", request_id=sealed)
        r.call(
            "any bytes (sealed to the validator)",
            sex,
            "Inference",
            "provide_output",
            request_id=sealed,
            output=b"sealed output to the validator",
        )
        r.call("fails", sval, "Inference", "submit_validation", request_id=sealed, valid=False)

    # sealed cid: the output is requested and never provided (OutputTimedOut in on_initialize)
    cex = req(sealed_cid).executor
    result("sealed cid", cex, sealed_cid, prompt_tokens=0, completion_tokens=0)
    cval = getattr(req(sealed_cid).state, "validator", None)
    if cval is not None:
        r.call("asks for it", cval, "Inference", "request_output", request_id=sealed_cid)
    # by_cid and to_expire expire in on_initialize (deadline + 1)
    r.blocks_until(r.number + 12)
    r.call(
        "already expired",
        eve,
        "Inference",
        "expire",
        request_id=to_expire,
        expect="Inference.NotExpired",
    )
    bex = req(by_cid).executor
    result("after expiry", bex, by_cid, "Inference.InvalidState")

    # a result whose validator never answers: settled at the validation deadline
    late = request("late verdict", alice, deadline_blocks=5)
    lex = req(late).executor
    result("late", lex, late, completion_tokens=0)
    r.blocks_until(r.number + 22)

    # TooManyTimeouts: 256 requests share Timeouts[deadline + 1], the 257th is refused
    r.block()
    for i in range(256):
        request(
            f"bucket {i}",
            (eve, ferdie, alice)[i % 3],
            prompt_tokens=1,
            max_tokens=1,
            deadline_blocks=3,
        )
    request(
        "bucket full",
        eve,
        "Inference.TooManyTimeouts",
        prompt_tokens=1,
        max_tokens=1,
        deadline_blocks=3,
    )
    request("another bucket", eve, prompt_tokens=1, max_tokens=1, deadline_blocks=4)
    r.blocks_until(r.number + 6)
    return r.finish(INFERENCE_UNREACHABLE)
