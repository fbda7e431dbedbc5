"""How pallets are declared: typed errors and events checked when their module is imported,
call arguments from annotations, weights in one place, per-runtime outer enums, dependencies
passed at construction, and Inference's pure executor selection."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from devnode._primitives import ACCOUNT_INFO, AccountData, AccountInfo
from devnode._runtime import RUNTIME, Runtime
from devnode._types import VEC_U8
from devnode.pallets import (
    Balances,
    Inference,
    ModelRegistry,
    Providers,
    Sudo,
    System,
    Timestamp,
    Tokens,
    TransactionPayment,
)
from devnode.pallets._harness import StateMachine
from devnode.pallets.inference import (
    BLOCK_BANDWIDTH_BYTES,
    Candidate,
    InferenceError,
    select_executor,
)

ImportPallet = Callable[[str], ModuleType]

HEADER = """
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from devnode._pallet import (
    Pallet, PalletError, PalletEvent, PalletEvents, Scale, Weight, dispatchable,
)
from devnode._types import U32, VEC_U8


class DemoError(PalletError):
    Known = 0, "A declared error."


class DemoEvent(PalletEvents):
    @dataclass(frozen=True)
    class Noted(PalletEvent, index=0):
        \"\"\"A declared event.\"\"\"

        value: Annotated[int, Scale(U32, "u32")]
"""


@pytest.fixture
def import_pallet(tmp_path: Path) -> Iterator[ImportPallet]:
    """Write a pallet module and import it, as devnode imports its own pallets."""
    sys.path.insert(0, str(tmp_path))
    names: list[str] = []

    def load(body: str) -> ModuleType:
        name = f"demo_pallet_{len(names)}"
        names.append(name)
        source = HEADER + textwrap.dedent(body)
        (tmp_path / f"{name}.py").write_text(source)
        return importlib.import_module(name)

    yield load
    sys.path.remove(str(tmp_path))
    for name in names:
        sys.modules.pop(name, None)


GOOD = """
class Demo(Pallet):
    name = "Demo"
    index = 42
    events = DemoEvent
    errors = DemoError
    weights = {"note": Weight(1_000)}

    @dispatchable(0)
    def note(self, ctx, origin, value: Annotated[int, Scale(U32, "u32")]) -> None:
        \"\"\"Note a value.\"\"\"
        if value == 0:
            self.fail(DemoError.ERROR)
        self.emit(ctx, DemoEvent.EVENT(value=value))
"""


def pallet_source(error: str = "Known", event: str = "Noted") -> str:
    return GOOD.replace("ERROR", error).replace("EVENT", event)


def test_a_correctly_declared_pallet_imports_and_derives_its_declarations(
    import_pallet: ImportPallet,
) -> None:
    module = import_pallet(pallet_source())
    pallet = module.Demo()
    pallet.declare()
    assert [(f.name, f.type_name) for f in pallet.calls["note"].args] == [("value", "u32")]
    assert pallet.calls["note"].docs == ("Note a value.",)
    assert pallet.event_type is not None and pallet.error_type is not None
    noted = pallet.event_type.case("Noted")
    assert [(f.name, f.type_name) for f in noted.fields] == [("value", "u32")]
    assert noted.docs == ("A declared event.",)
    assert [c.name for c in pallet.error_type.cases] == ["Known"]


def test_a_misspelt_error_fails_when_the_module_is_imported(import_pallet: ImportPallet) -> None:
    with pytest.raises(TypeError, match=r"DemoError\.Knwon, which is not a declared error"):
        import_pallet(pallet_source(error="Knwon"))


def test_a_misspelt_event_fails_when_the_module_is_imported(import_pallet: ImportPallet) -> None:
    with pytest.raises(TypeError, match=r"DemoEvent\.Notd, which is not a declared event"):
        import_pallet(pallet_source(event="Notd"))


def test_a_call_argument_without_its_scale_type_fails_at_import(
    import_pallet: ImportPallet,
) -> None:
    body = pallet_source().replace(
        'value: Annotated[int, Scale(U32, "u32")]) -> None:', "value: int) -> None:"
    )
    with pytest.raises(TypeError, match=r"argument value of Demo\.note must be annotated"):
        import_pallet(body)


def test_a_call_without_a_weight_fails_at_import(import_pallet: ImportPallet) -> None:
    body = pallet_source().replace(
        'weights = {"note": Weight(1_000)}', 'weights = {"note_it": Weight(1_000)}'
    )
    with pytest.raises(TypeError, match=r"missing \['note'\], not calls \['note_it'\]"):
        import_pallet(body)


def test_failing_with_another_pallets_error_is_refused() -> None:
    registry = RUNTIME.by_name["ModelRegistry"]
    with pytest.raises(TypeError, match="not one of its errors"):
        registry.fail(InferenceError.UnknownModel)


CORE = (System, Timestamp, Balances, TransactionPayment, Sudo)


def test_each_runtime_has_its_own_outer_enums() -> None:
    metadata_before = RUNTIME.metadata(16)
    small = Runtime(CORE)
    small_calls = [c.name for c in small.call_enum.cases]
    full_calls = [c.name for c in RUNTIME.call_enum.cases]
    assert small_calls == ["System", "Timestamp", "Balances", "Sudo"]
    assert "Inference" in full_calls and full_calls != small_calls
    assert small.call_enum is not RUNTIME.call_enum
    assert [c.name for c in small.event_enum.cases] == [
        "System",
        "Balances",
        "TransactionPayment",
        "Sudo",
    ]
    # Neither leaks into the other: the full runtime is unchanged, and the small one cannot
    # encode a call it does not have.
    assert RUNTIME.metadata(16) == metadata_before
    assert [c.name for c in RUNTIME.call_enum.cases] == full_calls
    with pytest.raises(ValueError, match="no variant 'Inference'"):
        small.encode_call("Inference", "expire", {"request_id": 0})
    # Sudo dispatches (and System stores events of) its own runtime's enums.
    sudo = small.by_name["Sudo"]
    assert sudo.calls["sudo"].args[0].type is small.call_enum
    assert RUNTIME.by_name["Sudo"].calls["sudo"].args[0].type is RUNTIME.call_enum
    record = small.system.Events.value.inner  # type: ignore[attr-defined]
    assert record.fields[1].type is small.event_enum
    # A call both runtimes have encodes alike; a sudo'd one names its own runtime's call.
    remark = {"remark": b"hi"}
    assert small.encode_call("System", "remark", remark) == RUNTIME.encode_call(
        "System", "remark", remark
    )
    inner = ("System", ("remark", remark))
    assert small.encode_call("Sudo", "sudo", {"call": inner}) == RUNTIME.encode_call(
        "Sudo", "sudo", {"call": inner}
    )
    assert small.metadata(16) != metadata_before


def test_dependencies_are_passed_at_construction() -> None:
    inference = RUNTIME.by_name["Inference"]
    assert isinstance(inference, Inference)
    assert inference.providers is RUNTIME.by_name["Providers"]
    assert inference.tokens is RUNTIME.by_name["Tokens"]
    assert inference.model_registry is RUNTIME.by_name["ModelRegistry"]
    providers = RUNTIME.by_name["Providers"]
    assert isinstance(providers, Providers)
    assert providers.model_registry is inference.model_registry
    # A runtime without the pallets Inference needs is refused when it is built, by name.
    with pytest.raises(ValueError, match="Inference needs the pallet 'model_registry'"):
        Runtime((*CORE, Tokens, Inference))
    composed = Runtime((*CORE, Tokens, ModelRegistry, Providers, Inference))
    assert composed.by_name["Inference"].providers is composed.by_name["Providers"]  # type: ignore[attr-defined]
    assert composed.by_name["Inference"].providers is not providers  # type: ignore[attr-defined]


def test_call_arguments_come_from_the_annotations() -> None:
    remark = RUNTIME.by_name["System"].calls["remark"]
    assert [(f.name, f.type, f.type_name) for f in remark.args] == [("remark", VEC_U8, "Vec<u8>")]
    request = RUNTIME.by_name["Inference"].calls["request"]
    assert [f.name for f in request.args] == [
        "model_id",
        "input",
        "prompt_tokens",
        "max_tokens",
        "max_price_per_1k_tokens",
        "deadline_blocks",
    ]


# -- select_executor ---------------------------------------------------------------------------

ME, P1, P2, P3 = (bytes([n]) * 32 for n in (1, 2, 3, 4))
TOTAL = 100


def candidate(who: bytes, **overrides: object) -> Candidate:
    fields: dict[str, object] = {
        "who": who,
        "active": True,
        "weight": 50,
        "in_flight": 0,
        "capacity": 4,
        "has_encryption_key": True,
        "bandwidth_in_use": 0,
    }
    fields.update(overrides)
    return Candidate(**fields)  # type: ignore[arg-type]


def select(candidates: list[Candidate], **overrides: object) -> bytes | InferenceError:
    arguments: dict[str, object] = {
        "requester": ME,
        "recipients": None,
        "bandwidth": 1_000,
        "total_weight": TOTAL,
        "draw": 0,
    }
    arguments.update(overrides)
    return select_executor(candidates, **arguments)  # type: ignore[arg-type]


def test_select_executor_draws_by_weight() -> None:
    pool = [candidate(P1, weight=30), candidate(P2, weight=70)]
    assert select(pool, draw=0) == P1
    assert select(pool, draw=29) == P1
    assert select(pool, draw=30) == P2
    assert select(pool, draw=99) == P2
    assert select(pool, draw=100) == P1  # the draw wraps around the total weight
    counts = {P1: 0, P2: 0}
    for draw in range(1_000):
        chosen = select(pool, draw=draw)
        assert isinstance(chosen, bytes)
        counts[chosen] += 1
    assert counts == {P1: 300, P2: 700}


@pytest.mark.parametrize(
    "excluded",
    [
        {"active": False},
        {"weight": 0},
        {"in_flight": 4},
        {"who": ME},  # the requester does not serve itself
    ],
)
def test_select_executor_skips_who_cannot_serve(excluded: dict[str, object]) -> None:
    who = excluded.get("who", P1)
    out = candidate(who, **{k: v for k, v in excluded.items() if k != "who"})  # type: ignore[arg-type]
    assert select([out, candidate(P2)], draw=0) == P2
    assert select([out]) is InferenceError.NoProviderAvailable


def test_select_executor_for_a_sealed_input_needs_a_wrap_and_a_key() -> None:
    pool = [candidate(P1), candidate(P2, has_encryption_key=False), candidate(P3)]
    assert select(pool, recipients=frozenset({P2, P3}), draw=0) == P3
    assert select(pool, recipients=frozenset({P2})) is InferenceError.NoProviderAvailable
    assert select(pool, recipients=None, draw=0) == P1


def test_select_executor_keeps_each_provider_under_its_bandwidth_share() -> None:
    share = BLOCK_BANDWIDTH_BYTES * 50 // TOTAL
    full = candidate(P1, bandwidth_in_use=share - 999)
    assert select([full, candidate(P2)], bandwidth=1_000, draw=0) == P2
    assert select([full], bandwidth=999) == P1  # exactly at the share still fits
    assert select([full], bandwidth=1_000) is InferenceError.BandwidthExceeded
    assert select([]) is InferenceError.NoProviderAvailable


def test_a_runtime_of_fewer_pallets_runs_calls_and_events_of_its_own() -> None:
    alice, bob = bytes([7]) * 32, bytes([8]) * 32
    sm = StateMachine([alice, bob], runtime=Runtime(CORE))
    sm.next_block()
    events = sm.signed(alice, "Balances", "transfer_keep_alive", dest=("Id", bob), value=10**12)
    assert ("Balances", "Transfer") in sm.event_names(events)
    inner = ("Balances", ("force_set_balance", {"who": ("Id", bob), "new_free": 5 * 10**12}))
    events = sm.signed(alice, "Sudo", "sudo", call=inner)
    assert sm.find(events, "Sudo", "Sudid") == {"sudo_result": ("Ok", ())}
    assert sm.get("System", "Account", bob).data.free == 5 * 10**12
    with pytest.raises(KeyError):
        sm.signed(alice, "Inference", "expire", request_id=0)


def test_records_round_trip_through_their_scale_types() -> None:
    account = AccountInfo(3, 1, 1, 0, AccountData(free=10**20, reserved=7, frozen=0))
    raw = ACCOUNT_INFO.encode(account)
    assert len(raw) == 4 * 4 + 4 * 16  # fixed width, by slot
    assert ACCOUNT_INFO.decode_all(raw) == account
    request = RUNTIME.by_name["Inference"].storage["Requests"]
    with pytest.raises(ValueError, match="expected a AccountInfo, got dict"):
        ACCOUNT_INFO.encode({"nonce": 3})
    with pytest.raises(ValueError, match="expected a InferenceRequest, got dict"):
        request.value.encode({"requester": bytes(32)})
