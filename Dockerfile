# One image for the project's Python services (devnode, ocw-daemon, model-registry, infer).
# torch's Linux wheels bundle the CUDA runtime, so a slim Python base is enough: the NVIDIA
# container toolkit injects the driver when the service reserves a GPU (docker-compose.yml).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 genai \
 && useradd --system --uid 10001 --gid genai --home-dir /var/lib/genai --create-home genai

WORKDIR /opt/genai
COPY pyproject.toml README.md ./
COPY runtime_types ./runtime_types
COPY devnode ./devnode
COPY ipfs_store ./ipfs_store
COPY cache ./cache
COPY inference_engine ./inference_engine
COPY model_registry ./model_registry
COPY inference_client ./inference_client
COPY ocw_daemon ./ocw_daemon
COPY devstack ./devstack
COPY inference_gateway ./inference_gateway
COPY sealing ./sealing
COPY protocol ./protocol
COPY lifecycle ./lifecycle
COPY settings ./settings
# the image runs the provider's daemon: the base install plus the [provider] extra (torch, ...)
RUN pip install ".[provider]" \
 && install -d -o genai -g genai /var/lib/genai/chain /var/lib/genai/state

USER genai
WORKDIR /var/lib/genai
CMD ["ocw-daemon", "--help"]
