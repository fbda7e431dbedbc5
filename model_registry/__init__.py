"""Model authors' tools: check a model directory, upload it to IPFS, register and price it.

`model-registry register ./model-dir --name ... --task ... --price ... --currency ...` is the
command line (docs/model_registry.md); `ModelRegistryClient` is the same as a Python API.
"""

from ._config import RegistryConfig
from ._errors import (
    BadModelDir,
    ChainFailure,
    HostileModel,
    IpfsUnavailable,
    RegistryConfigError,
    RegistryError,
)
from ._registry import ModelRegistryClient, Progress, UploadedModel, check_model_dir
from ._types import (
    CURRENCIES,
    TASKS,
    ModelId,
    ModelRecord,
    ModelVersionRecord,
    parse_author_share,
    parse_currency,
    parse_model_id,
)

__all__ = [
    "CURRENCIES",
    "TASKS",
    "BadModelDir",
    "ChainFailure",
    "HostileModel",
    "IpfsUnavailable",
    "ModelId",
    "ModelRecord",
    "ModelRegistryClient",
    "ModelVersionRecord",
    "Progress",
    "RegistryConfig",
    "RegistryConfigError",
    "RegistryError",
    "UploadedModel",
    "check_model_dir",
    "parse_author_share",
    "parse_currency",
    "parse_model_id",
]
