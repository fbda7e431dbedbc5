"""The pallets devnode's runtime is composed of, in runtime order.

The protocol pallets (ModelRegistry, Tokens, Providers, Inference) join this list in their own
modules; `RUNTIME_PALLETS` is the single place a pallet is added to the runtime.
"""

from __future__ import annotations

from .._pallet import Pallet
from .balances import Balances
from .sudo import Sudo
from .system import System
from .timestamp import Timestamp
from .transaction_payment import TransactionPayment

__all__ = ["RUNTIME_PALLETS", "Balances", "Sudo", "System", "Timestamp", "TransactionPayment"]

RUNTIME_PALLETS: tuple[type[Pallet], ...] = (System, Timestamp, Balances, TransactionPayment, Sudo)
