"""Model authors' tools: check a model directory, upload it to IPFS, register and price it.

`model-registry register ./model-dir --name ... --task ... --price ... --currency ...` is the
command line (`register --check ./model-dir` shows what would be registered, offline) (docs/model_registry.md); `ModelRegistryClient` is the same as a Python API.
"""

from ._check import Finding, ModelFile, RegistrationPlan, plan_registration
from ._config import RegistryConfig
from ._errors import (
    BadModelDir,
    ChainError,
    ChainFailure,
    HostileModel,
    IpfsUnavailable,
    NodeUnreachable,
    RegistryClientClosed,
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
    "ChainError",
    "ChainFailure",
    "Finding",
    "HostileModel",
    "IpfsUnavailable",
    "ModelFile",
    "ModelId",
    "ModelRecord",
    "ModelRegistryClient",
    "ModelVersionRecord",
    "NodeUnreachable",
    "Progress",
    "RegistrationPlan",
    "RegistryClientClosed",
    "RegistryConfig",
    "RegistryConfigError",
    "RegistryError",
    "UploadedModel",
    "check_model_dir",
    "parse_author_share",
    "parse_currency",
    "parse_model_id",
    "plan_registration",
]
