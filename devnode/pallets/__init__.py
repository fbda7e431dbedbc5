"""The pallets devnode's runtime is composed of, in runtime order.

The protocol pallets (ModelRegistry, Tokens, Providers, Inference) join this list in their own
modules; `RUNTIME_PALLETS` is the single place a pallet is added to the runtime.
"""

from __future__ import annotations

from .._pallet import Pallet
from .balances import Balances
from .channels import Channels
from .inference import Inference
from .model_registry import ModelRegistry
from .providers import Providers
from .sudo import Sudo
from .system import System
from .timestamp import Timestamp
from .tokens import Tokens
from .transaction_payment import TransactionPayment

__all__ = [
    "RUNTIME_PALLETS",
    "Balances",
    "Channels",
    "Inference",
    "ModelRegistry",
    "Providers",
    "Sudo",
    "System",
    "Timestamp",
    "Tokens",
    "TransactionPayment",
]

RUNTIME_PALLETS: tuple[type[Pallet], ...] = (
    System,
    Timestamp,
    Balances,
    TransactionPayment,
    Sudo,
    Tokens,
    ModelRegistry,
    Providers,
    Inference,
    Channels,
)
