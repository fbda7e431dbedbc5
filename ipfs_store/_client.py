"""The async client: Kubo's RPC API over aiohttp, uploads and verified retrieval."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from lifecycle import AsyncResource

from ._car import ChunkReader, read_car
from ._cid import DAG_PB, RAW, Cid
from ._dagpb import PBNode, UnixFSType, decode_pbnode, decode_unixfs
from ._errors import (
    ContentNotFound,
    GatewayUnavailable,
    IntegrityError,
    IpfsStoreClosed,
    IpfsStoreError,
    KuboUnavailable,
    SourceUnavailable,
    TooLarge,
    UnsupportedContent,
)
from ._fileio import BackgroundFileIO
from ._importer import TreeEntry, walk_tree
from ._profile import ImportProfile
from ._rawhttp import RawBody, RawHttpUnsupported
from ._types import AddResult, FetchResult, KuboVersion, NodeId, Progress, StoreConfig
from ._verify import DagWriter

T = TypeVar("T")

_NOT_FOUND_MARKERS = (
    "not found",
    "could not find",
    "no link named",
    "not pinned",
    "no such",
)

_CAR_ACCEPT = "application/vnd.ipld.car;version=1;order=dfs;dups=n"
# The empty file's raw block (sha2-256 of no bytes).
EMPTY_RAW = Cid.parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
# Interior nodes fetched one by one before a file is streamed (1024 of them cover 1 TiB).
MAX_PLAN_NODES = 4096


@dataclass(frozen=True, slots=True)
class KuboSource:
    """Retrieval from a Kubo node.

    With ``gateway_url`` (Kubo's own gateway, ``Addresses.Gateway``) the CAR comes from the
    gateway's trustless ``?format=car`` endpoint, which Kubo serves several times faster than
    the RPC API's ``dag/export``; without it, ``dag/export`` is used.
    """

    api_url: str
    gateway_url: str | None = None

    def describe(self) -> str:
        via = f" via {self.gateway_url}" if self.gateway_url else ""
        return f"kubo {self.api_url}{via}"


@dataclass(frozen=True, slots=True)
class GatewaySource:
    """Retrieval from a trustless gateway (``/ipfs/<cid>?format=car``)."""

    url: str

    def describe(self) -> str:
        return f"gateway {self.url}"


Source = KuboSource | GatewaySource


def _unavailable(source: Source) -> type[SourceUnavailable]:
    """The error for a source that cannot be reached: the Kubo node's own, or a gateway's."""
    return KuboUnavailable if isinstance(source, KuboSource) else GatewayUnavailable


def _kubo_error(
    status: int, body: bytes, unavailable: type[SourceUnavailable] = KuboUnavailable
) -> IpfsStoreError:
    message = body.decode("utf-8", "replace").strip()
    with contextlib.suppress(ValueError):
        parsed = json.loads(message)
        if isinstance(parsed, dict) and isinstance(parsed.get("Message"), str):
            message = parsed["Message"]
    lowered = message.lower()
    if status in (404, 410) or any(marker in lowered for marker in _NOT_FOUND_MARKERS):
        return ContentNotFound(message or f"HTTP {status}")
    if status in (502, 503, 504):
        return unavailable(f"HTTP {status}: {message}")
    return IpfsStoreError(f"HTTP {status}: {message}")


class IpfsStore(AsyncResource):
    """Content-addressed storage on Kubo. Use as ``async with IpfsStore(config) as store:``.

    Used without ``async with``, the HTTP session opens on the first call; ``close()``
    (idempotent) releases it, and a closed store raises ``IpfsStoreClosed``.
    """

    closed_error = IpfsStoreClosed

    def __init__(self, config: StoreConfig | None = None):
        super().__init__()
        self.config = config or StoreConfig()
        self._session: aiohttp.ClientSession | None = None

    async def _aopen(self) -> None:
        self._ensure_session()

    async def _aclose(self) -> None:
        """Release the HTTP session."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        self._check_usable()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self.config.headers,
                auto_decompress=False,
                connector=aiohttp.TCPConnector(limit=16),
            )
        return self._session

    def _api(self, command: str, api_url: str | None = None) -> str:
        return f"{(api_url or self.config.api_url).rstrip('/')}/api/v0/{command}"

    def _stream_timeout(self) -> aiohttp.ClientTimeout:
        c = self.config
        return aiohttp.ClientTimeout(
            total=None, connect=c.connect_timeout, sock_read=c.read_timeout
        )

    # -- retries -------------------------------------------------------------------------------

    async def _with_retries(
        self,
        what: str,
        attempt: Callable[[], Awaitable[T]],
        unavailable: type[SourceUnavailable] = KuboUnavailable,
    ) -> T:
        """Run ``attempt``; on connection failures retry with backoff, then ``unavailable``."""
        c = self.config
        last: BaseException | None = None
        for n in range(c.retries + 1):
            if n:
                await asyncio.sleep(c.retry_backoff * 2 ** (n - 1))
            try:
                return await attempt()
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                last = exc
            except SourceUnavailable as exc:
                last = exc
        raise unavailable(f"{what}: unreachable after {c.retries + 1} attempts: {last!r}") from last

    async def _rpc_json(self, command: str, params: dict[str, str] | None = None) -> Any:
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout, connect=self.config.connect_timeout
        )

        async def attempt() -> Any:
            async with session.post(self._api(command), params=params, timeout=timeout) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise _kubo_error(resp.status, body)
            try:
                return json.loads(body) if body.strip() else None
            except ValueError as exc:
                raise IpfsStoreError(f"{command}: malformed response {body[:200]!r}") from exc

        return await self._with_retries(command, attempt)

    # -- node information ----------------------------------------------------------------------

    async def version(self) -> KuboVersion:
        data = await self._rpc_json("version")
        return KuboVersion(
            version=str(data.get("Version", "")),
            commit=str(data.get("Commit", "")),
            system=str(data.get("System", "")),
            golang=str(data.get("Golang", "")),
        )

    async def id(self) -> NodeId:
        data = await self._rpc_json("id")
        return NodeId(
            peer_id=str(data.get("ID", "")),
            agent_version=str(data.get("AgentVersion", "")),
            addresses=tuple(str(a) for a in data.get("Addresses") or ()),
        )

    # -- pins ----------------------------------------------------------------------------------

    async def pin(self, cid: Cid | str, *, name: str | None = None) -> None:
        """Pin recursively (fetching through Kubo if it lacks blocks), optionally named, so a
        caller can later find its own pins among others (``pins(name=...)``)."""
        params = {"arg": str(Cid.parse(cid)), "recursive": "true"}
        if name is not None:
            params["name"] = name
        await self._put_empty_block(self.config.api_url)
        await self._rpc_json("pin/add", params)

    async def _put_empty_block(self, api_url: str) -> None:
        """Store the empty raw block (an empty file's) in the local Kubo: Kubo's bitswap never
        delivers it from a peer, so a pin or a CAR of a DAG holding an empty file would wait
        for it forever. Best effort: a failure here resurfaces in the call that follows."""
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout, connect=self.config.connect_timeout
        )
        form = aiohttp.FormData()
        form.add_field("file", b"", filename="empty", content_type="application/octet-stream")
        params = {"cid-codec": "raw", "mhtype": "sha2-256", "pin": "false"}
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.post(
                self._api("block/put", api_url), params=params, data=form, timeout=timeout
            ) as resp:
                await resp.read()

    async def pins(self, *, name: str | None = None) -> dict[Cid, str]:
        """Recursive pins and their names; with ``name``, only the pins of that name."""
        data = await self._rpc_json("pin/ls", {"type": "recursive", "names": "true"})
        found: dict[Cid, str] = {}
        for cid, info in ((data or {}).get("Keys") or {}).items():
            pin_name = str((info or {}).get("Name") or "")
            if name is None or pin_name == name:
                found[Cid.parse(cid)] = pin_name
        return found

    async def unpin(self, cid: Cid | str) -> None:
        """Remove a recursive pin; ``ContentNotFound`` if it was not pinned."""
        await self._rpc_json("pin/rm", {"arg": str(Cid.parse(cid)), "recursive": "true"})

    async def is_pinned(self, cid: Cid | str) -> bool:
        try:
            data = await self._rpc_json("pin/ls", {"arg": str(Cid.parse(cid)), "type": "all"})
        except ContentNotFound:
            return False
        keys = (data or {}).get("Keys") or {}
        return bool(keys)

    # -- add -----------------------------------------------------------------------------------

    async def add(
        self,
        path: str | os.PathLike[str],
        *,
        pin: bool = True,
        profile: ImportProfile | None = None,
        progress: Progress | None = None,
        expected_cid: Cid | str | None = None,
        follow_symlinks: bool = False,
        only_hash: bool = False,
    ) -> AddResult:
        """Upload a file or a directory tree as a streamed multipart request.

        The profile (default: the config's) is sent to Kubo explicitly. With ``expected_cid``
        (e.g. from ``cid_of_path``) a different result is unpinned and raises IntegrityError.
        With ``only_hash`` Kubo computes the CID without storing anything.
        """
        prof = profile or self.config.profile
        entries = await asyncio.to_thread(
            lambda: list(walk_tree(Path(path), prof, follow_symlinks=follow_symlinks))
        )
        total = sum(e.size for e in entries)
        if total > self.config.max_add_size:
            raise TooLarge(f"{path} holds {total} bytes, over the {self.config.max_add_size} limit")

        def body(counter: list[int]) -> aiohttp.MultipartWriter:
            writer = aiohttp.MultipartWriter("form-data")
            for entry in entries:
                self._append_part(writer, entry, counter, total, progress)
            return writer

        return await self._add(
            body, entries[0].relpath, total, prof, pin, expected_cid, only_hash=only_hash
        )

    async def add_bytes(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        name: str = "data",
        pin: bool = True,
        profile: ImportProfile | None = None,
        progress: Progress | None = None,
        expected_cid: Cid | str | None = None,
        only_hash: bool = False,
    ) -> AddResult:
        """Upload one file from memory or from an async byte stream (consumed once: no retry)."""
        prof = profile or self.config.profile
        total = len(data) if isinstance(data, bytes) else None
        limit = self.config.max_add_size
        used = False

        async def stream(counter: list[int]) -> AsyncIterator[bytes]:
            if isinstance(data, bytes):
                pieces: AsyncIterable[bytes] = _aiter_bytes(data, self.config.upload_chunk_size)
            else:
                pieces = data
            async for piece in pieces:
                counter[0] += len(piece)
                if counter[0] > limit:
                    raise TooLarge(f"upload exceeds the {limit}-byte limit")
                if progress is not None:
                    progress(counter[0], total)
                yield piece

        def body(counter: list[int]) -> aiohttp.MultipartWriter:
            nonlocal used
            if used and not isinstance(data, bytes):
                raise KuboUnavailable("the upload stream was consumed by a failed attempt")
            used = True
            writer = aiohttp.MultipartWriter("form-data")
            writer.append(stream(counter), _part_headers(name, directory=False))
            return writer

        return await self._add(body, name, total, prof, pin, expected_cid, only_hash=only_hash)

    def _append_part(
        self,
        writer: aiohttp.MultipartWriter,
        entry: TreeEntry,
        counter: list[int],
        total: int,
        progress: Progress | None,
    ) -> None:
        if entry.is_dir:
            writer.append(b"", _part_headers(entry.relpath, directory=True))
            return
        chunk = self.config.upload_chunk_size

        async def read_file() -> AsyncIterator[bytes]:
            fh = await asyncio.to_thread(open, entry.path, "rb")
            try:
                sent = 0
                while piece := await asyncio.to_thread(fh.read, chunk):
                    sent += len(piece)
                    if sent > entry.size:
                        raise IpfsStoreError(f"{entry.path} grew while being uploaded")
                    counter[0] += len(piece)
                    if progress is not None:
                        progress(counter[0], total)
                    yield piece
                if sent != entry.size:
                    raise IpfsStoreError(f"{entry.path} changed size while being uploaded")
            finally:
                await asyncio.to_thread(fh.close)

        writer.append(read_file(), _part_headers(entry.relpath, directory=False))

    async def _add(
        self,
        make_body: Callable[[list[int]], aiohttp.MultipartWriter],
        root_name: str,
        total: int | None,
        prof: ImportProfile,
        pin: bool,
        expected_cid: Cid | str | None,
        *,
        only_hash: bool = False,
    ) -> AddResult:
        session = self._ensure_session()
        pin = pin and not only_hash
        params = prof.kubo_add_params() | {
            "pin": "true" if pin else "false",
            "progress": "false",
            "only-hash": "true" if only_hash else "false",
        }
        counter = [0]

        async def attempt() -> AddResult:
            counter[0] = 0
            lines: list[dict[str, Any]] = []
            async with session.post(
                self._api("add"),
                params=params,
                data=make_body(counter),
                timeout=self._stream_timeout(),
            ) as resp:
                if resp.status != 200:
                    raise _kubo_error(resp.status, await resp.read())
                async for raw in resp.content:
                    if not raw.strip():
                        continue
                    try:
                        item = json.loads(raw)
                    except ValueError as exc:
                        raise IpfsStoreError(f"add: malformed response line {raw[:200]!r}") from exc
                    if item.get("Type") == "error" or "Message" in item:
                        raise IpfsStoreError(f"add: {item.get('Message')}")
                    if "Hash" in item:
                        lines.append(item)
            if not lines:
                raise IpfsStoreError("add: Kubo returned no CID")
            root = next((i for i in lines if i.get("Name") == root_name), lines[-1])
            return AddResult(
                cid=Cid.parse(str(root["Hash"])),
                name=root_name,
                size=counter[0],
                profile=prof.name,
                pinned=pin,
            )

        try:
            result = await self._with_retries("add", attempt)
        except aiohttp.ClientError as exc:
            raise KuboUnavailable(f"add: {exc!r}") from exc
        if expected_cid is not None and result.cid != Cid.parse(expected_cid):
            if pin:
                with contextlib.suppress(IpfsStoreError):
                    await self.unpin(result.cid)
            raise IntegrityError(
                f"Kubo built {result.cid} under profile {prof.name}, expected {expected_cid}"
            )
        return result

    # -- verified retrieval --------------------------------------------------------------------

    def sources(self) -> list[Source]:
        found: list[Source] = []
        if self.config.use_kubo_for_fetch:
            found.append(KuboSource(self.config.api_url, self.config.kubo_gateway_url))
        found += [GatewaySource(g) for g in self.config.gateways]
        return found

    async def fetch(
        self,
        cid: Cid | str,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        sources: list[Source] | None = None,
        max_size: int | None = None,
    ) -> FetchResult:
        """Fetch ``cid`` as a verified CAR and materialise it at ``dest`` (which must not exist).

        Sources are tried in order. Each attempt writes under a staging path next to ``dest``
        and renames it into place only once every block has been verified; a failed attempt
        removes its staging path, so nothing is left behind.
        """
        root = Cid.parse(cid)
        target = Path(dest)
        await asyncio.to_thread(_check_target, target)
        failures: list[tuple[str, IpfsStoreError]] = []
        for source in sources if sources is not None else self.sources():
            try:
                return await self._fetch_from(source, root, target, progress, max_size)
            except (TooLarge, UnsupportedContent):
                raise  # a property of the (verified) content: no other source will differ
            except IpfsStoreError as exc:
                failures.append((source.describe(), exc))
        if not failures:
            raise IpfsStoreError("no sources configured")
        detail = "; ".join(f"{name}: {exc}" for name, exc in failures)
        errors = [exc for _, exc in failures]
        cls: type[IpfsStoreError]
        if any(isinstance(e, IntegrityError) for e in errors):
            cls = IntegrityError
        elif any(isinstance(e, ContentNotFound) for e in errors):
            cls = ContentNotFound
        elif all(isinstance(e, KuboUnavailable) for e in errors):
            cls = KuboUnavailable
        elif all(isinstance(e, SourceUnavailable) for e in errors):
            cls = SourceUnavailable
        else:
            cls = IpfsStoreError
        error = cls(f"could not fetch {root}: {detail}")
        error.attempts = tuple(failures)
        raise error from errors[-1]

    async def fetch_bytes(self, cid: Cid | str, *, max_size: int = 64 * 1024 * 1024) -> bytes:
        """A small file's verified content in memory (payloads, configs), at most ``max_size``."""
        with tempfile.TemporaryDirectory(prefix="ipfs-store-") as tmp:
            result = await self.fetch(cid, Path(tmp) / "content", max_size=max_size)
            if result.is_dir:
                raise UnsupportedContent(f"{cid} is a directory")
            return await asyncio.to_thread(result.path.read_bytes)

    @contextlib.asynccontextmanager
    async def _open_car(self, source: Source, cid: Cid) -> AsyncIterator[aiohttp.ClientResponse]:
        session = self._ensure_session()
        timeout = self._stream_timeout()

        async def connect() -> aiohttp.ClientResponse:
            if isinstance(source, KuboSource) and source.gateway_url is None:
                resp = await session.post(
                    self._api("dag/export", source.api_url),
                    params={"arg": str(cid), "progress": "false"},
                    timeout=timeout,
                )
            else:
                base = source.url if isinstance(source, GatewaySource) else source.gateway_url
                assert base is not None
                resp = await session.get(
                    f"{base.rstrip('/')}/ipfs/{cid}",
                    params={"format": "car", "dag-scope": "all", "car-dups": "n"},
                    headers={"Accept": _CAR_ACCEPT},
                    timeout=timeout,
                )
            if resp.status != 200:
                body = await resp.read()
                resp.release()
                raise _kubo_error(resp.status, body, _unavailable(source))
            return resp

        resp = await self._with_retries(source.describe(), connect, _unavailable(source))
        try:
            yield resp
        finally:
            resp.release()

    async def _fetch_from(
        self,
        source: Source,
        root: Cid,
        target: Path,
        progress: Progress | None,
        max_size: int | None,
    ) -> FetchResult:
        c = self.config
        staging = target.with_name(f".{target.name}.partial-{secrets.token_hex(6)}")
        writer = DagWriter(
            root,
            staging,
            max_size=max_size or c.max_fetch_size,
            io=BackgroundFileIO(c.queue_blocks * c.max_block_size),
        )
        try:
            plan = None
            fast = isinstance(source, KuboSource) and c.fast_file_fetch
            if isinstance(source, KuboSource) and fast:
                plan = await self._plan_file(source, root)
            if plan is not None and isinstance(source, KuboSource):
                await self._fetch_file_stream(source, root, plan, writer, progress)
            elif not (
                isinstance(source, KuboSource)
                and fast
                and await self._fetch_dir(source, root, writer, progress)
            ):
                await self._fetch_car(source, root, writer, progress)
            await asyncio.to_thread(writer.finish)
            await asyncio.to_thread(os.rename, staging, target)
            if isinstance(source, KuboSource) and writer.received(EMPTY_RAW):
                # Known by its hash, so never asked for: give it to Kubo for later pins.
                await self._put_empty_block(source.api_url)
        except BaseException:
            writer.close()
            await asyncio.shield(asyncio.to_thread(_remove, staging))
            raise
        return FetchResult(
            cid=root,
            path=target,
            size=writer.written,
            blocks=writer.blocks,
            is_dir=bool(writer.root_is_dir),
            source=source.describe(),
        )

    async def _fetch_car(
        self, source: Source, root: Cid, writer: DagWriter, progress: Progress | None
    ) -> None:
        """The DAG under ``root`` (the writer's root, or a part of it the writer expects)."""
        async with self._open_car(source, root) as resp:
            reader = ChunkReader(resp.content.iter_any().__aiter__())
            try:
                await self._pump_car(reader, writer, progress, root)
            except IntegrityError as exc:
                if writer.blocks == 0:
                    # Gateways commit to 200 before finding the root; one that lacks it
                    # sends a CAR header and an error text instead of blocks.
                    raise ContentNotFound(
                        f"{source.describe()} sent no block of {root}: {exc}"
                    ) from exc
                raise
            except aiohttp.ClientPayloadError as exc:
                raise IntegrityError(f"stream from {source.describe()} broken: {exc}") from exc
            except aiohttp.ClientConnectionError as exc:
                raise IntegrityError(f"stream from {source.describe()} cut: {exc}") from exc
            except TimeoutError as exc:
                raise _unavailable(source)(f"{source.describe()} stalled: {exc!r}") from exc

    async def _pump_car(
        self,
        reader: ChunkReader,
        writer: DagWriter,
        progress: Progress | None,
        root: Cid | None = None,
    ) -> None:
        expected = writer.root if root is None else root
        roots, frames = await read_car(reader, max_block_size=self.config.max_block_size)
        if expected not in roots:
            raise IntegrityError(f"CAR roots {[str(r) for r in roots]} do not include {expected}")
        await self._pump(frames, writer, progress)

    async def _pump(
        self,
        frames: AsyncIterator[tuple[Cid, bytes | bytearray | memoryview]],
        writer: DagWriter,
        progress: Progress | None,
    ) -> None:
        """Verify each block as it arrives; its file writes go to the writer thread.

        Hashing runs here, on the event loop (about 0.6 ms per MiB): handing every block to a
        worker thread measured slower on 2 cores, the GIL changing hands twice per block. The
        network waits only while the writer's backlog (``queue_blocks`` x ``max_block_size``)
        is full.
        """
        io = writer.io
        async for cid, block in frames:
            writer.accept(cid, block)
            if progress is not None:
                progress(writer.written, writer.declared)
            if not io.has_room():
                await asyncio.to_thread(io.wait_room)

    # -- fast path for files with raw leaves -----------------------------------------------------

    async def _get_block(self, source: KuboSource, cid: Cid) -> bytes:
        """One block, unverified (the caller hashes it), through the gateway or ``block/get``."""
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout, connect=self.config.connect_timeout
        )
        limit = self.config.max_block_size
        if cid == EMPTY_RAW:
            # The empty block (an empty file) is known by its hash alone; Kubo's bitswap does
            # not deliver it from a peer, so asking would stall until a timeout.
            return b""

        async def attempt() -> bytes:
            if source.gateway_url is not None:
                request = session.get(
                    f"{source.gateway_url.rstrip('/')}/ipfs/{cid}",
                    params={"format": "raw"},
                    headers={"Accept": "application/vnd.ipld.raw"},
                    timeout=timeout,
                )
            else:
                request = session.post(
                    self._api("block/get", source.api_url),
                    params={"arg": str(cid)},
                    timeout=timeout,
                )
            async with request as resp:
                if resp.status != 200:
                    raise _kubo_error(resp.status, await resp.read())
                body = bytearray()
                async for chunk in resp.content.iter_any():
                    body += chunk
                    if len(body) > limit:
                        raise IntegrityError(f"block {cid} exceeds {limit} bytes")
                return bytes(body)

        return await self._with_retries(source.describe(), attempt)

    async def _plan_file(self, source: KuboSource, root: Cid) -> _FilePlan | None:
        """The verified interior of a file whose leaves are all raw blocks, or None.

        None (the CAR path is used) for directories, dag-pb leaves, inline data in interior
        nodes or more than ``MAX_PLAN_NODES`` interior nodes. Interior blocks are hashed here
        and again by the DagWriter; only CIDs named by verified parents are requested.
        """
        nodes: list[tuple[Cid, bytes]] = []
        leaves: list[tuple[Cid, int]] = []

        async def visit(cid: Cid) -> bool:
            if cid.codec == RAW:
                return False
            if cid.codec != DAG_PB or len(nodes) >= MAX_PLAN_NODES:
                return False
            block = await self._get_block(source, cid)
            if not cid.matches(block):
                raise IntegrityError(f"block {cid} does not match its CID")
            try:
                node = decode_pbnode(block)
                unixfs = decode_unixfs(node.data or b"")
            except ValueError:
                return False  # let the DagWriter say what is wrong with it
            if unixfs.type != UnixFSType.FILE or not node.links or unixfs.data:
                return False
            if len(unixfs.blocksizes) != len(node.links):
                return False
            nodes.append((cid, block))
            for link, size in zip(node.links, unixfs.blocksizes, strict=True):
                if link.cid.codec == RAW:
                    leaves.append((link.cid, size))
                elif not await visit(link.cid):
                    return False
            return True

        if root.codec == RAW:
            block = await self._get_block(source, root)
            return _FilePlan([(root, block)], [])
        return _FilePlan(nodes, leaves) if await visit(root) else None

    # -- fast path for directories ---------------------------------------------------------------

    async def _fetch_dir(
        self, source: KuboSource, root: Cid, writer: DagWriter, progress: Progress | None
    ) -> bool:
        """A plain UnixFS directory, file by file, each file on the raw-leaf stream path.

        False (nothing accepted yet: the caller takes the CAR path) unless ``root`` is a
        plain (not sharded) directory. Directory blocks are fetched one by one and verified
        by the DagWriter, which then expects exactly the entries they link; each file comes
        as its verified interior nodes plus its plain content stream cut into leaves (one
        at a time when Kubo holds the bytes, up to ``parallel_files`` at once when it gets
        them from peers), and any entry that cannot (a HAMT shard, dag-pb leaves, inline
        data) as a CAR of that entry alone. A model directory so fetches at about the speed
        of ``ipfs cat`` of its files.
        """
        if root.codec != DAG_PB:
            return False
        block = await self._get_block(source, root)
        if not root.matches(block):
            raise IntegrityError(f"block {root} does not match its CID")
        node = self._plain_dir(block)
        if node is None:
            return False
        writer.accept(root, block)
        limit = asyncio.Semaphore(self.config.parallel_files)
        started: set[Cid] = set()
        try:
            async with asyncio.TaskGroup() as group:
                await self._fetch_links(source, node, writer, progress, group, limit, started)
        except BaseExceptionGroup as failed:
            first = failed.exceptions[0]
            raise first from (first.__cause__ or first.__context__)
        return True

    @staticmethod
    def _plain_dir(block: bytes) -> PBNode | None:
        try:
            node = decode_pbnode(block)
            unixfs = decode_unixfs(node.data or b"")
        except ValueError:
            return None  # the CAR path's DagWriter says what is wrong with it
        return node if unixfs.type == UnixFSType.DIRECTORY else None

    async def _fetch_links(
        self,
        source: KuboSource,
        node: PBNode,
        writer: DagWriter,
        progress: Progress | None,
        group: asyncio.TaskGroup,
        limit: asyncio.Semaphore,
        started: set[Cid],
    ) -> None:
        for link in node.links:
            cid = link.cid
            if cid in started or not writer.wants(cid):
                continue  # the same content linked twice: placed from the first copy
            started.add(cid)
            async with limit:
                plan = await self._plan_file(source, cid)
            if plan is not None:
                if plan.leaves and await self._is_local(source, plan.leaves[-1][0]):
                    # Kubo has the bytes: the stream is CPU-bound here, and parallel streams
                    # only contend (measured 0.74 of `ipfs cat` with 4, 1.08 with 1).
                    await self._stream_entry(source, cid, plan, writer, progress, limit)
                else:
                    # Kubo fetches them from peers: parallel streams fill the network
                    # (0.98 of a bitswap `ipfs cat` with 4, 0.77 with 1).
                    task = self._stream_entry(source, cid, plan, writer, progress, limit)
                    group.create_task(task)
                continue
            if cid.codec == DAG_PB:
                block = await self._get_block(source, cid)
                if not cid.matches(block):
                    raise IntegrityError(f"block {cid} does not match its CID")
                child = self._plain_dir(block)
                if child is not None:
                    writer.accept(cid, block)
                    await self._fetch_links(source, child, writer, progress, group, limit, started)
                    continue
            group.create_task(self._car_entry(source, cid, writer, progress, limit))

    async def _is_local(self, source: KuboSource, cid: Cid) -> bool:
        """Whether Kubo holds ``cid`` itself (asked offline: nothing is fetched)."""
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout, connect=self.config.connect_timeout
        )
        try:
            async with session.post(
                self._api("block/stat", source.api_url),
                params={"arg": str(cid), "offline": "true"},
                timeout=timeout,
            ) as resp:
                await resp.read()
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _stream_entry(
        self,
        source: KuboSource,
        cid: Cid,
        plan: _FilePlan,
        writer: DagWriter,
        progress: Progress | None,
        limit: asyncio.Semaphore,
    ) -> None:
        async with limit:
            await self._fetch_file_stream(source, cid, plan, writer, progress)

    async def _car_entry(
        self,
        source: KuboSource,
        cid: Cid,
        writer: DagWriter,
        progress: Progress | None,
        limit: asyncio.Semaphore,
    ) -> None:
        async with limit:
            await self._put_empty_block(source.api_url)  # the entry may hold an empty file
            await self._fetch_car(source, cid, writer, progress)

    async def _fetch_file_stream(
        self,
        source: KuboSource,
        root: Cid,
        plan: _FilePlan,
        writer: DagWriter,
        progress: Progress | None,
    ) -> None:
        """Feed the planned interior blocks, then cut the plain content stream (Kubo's gateway
        ``/ipfs/<cid>`` or ``cat``) into the leaves the verified nodes name, in order: the
        DagWriter hashes and places each one exactly as it would a CAR frame."""
        for cid, block in plan.nodes:
            writer.accept(cid, block)
        if not plan.leaves:
            return
        if source.gateway_url is not None:
            url = f"{source.gateway_url.rstrip('/')}/ipfs/{root}"
            c = self.config
            try:
                body = await self._with_retries(
                    source.describe(),
                    lambda: RawBody.get(
                        url, connect_timeout=c.connect_timeout, read_timeout=c.read_timeout
                    ),
                )
            except RawHttpUnsupported:
                pass  # TLS, a chunked body, a redirect...: aiohttp below handles it
            else:
                try:
                    await self._pump(_raw_leaves(body, plan, root), writer, progress)
                finally:
                    body.close()
                return
        session = self._ensure_session()
        timeout = self._stream_timeout()

        async def connect() -> aiohttp.ClientResponse:
            if source.gateway_url is not None:
                resp = await session.get(
                    f"{source.gateway_url.rstrip('/')}/ipfs/{root}",
                    headers={"Accept-Encoding": "identity"},
                    timeout=timeout,
                )
            else:
                resp = await session.post(
                    self._api("cat", source.api_url),
                    params={"arg": str(root), "progress": "false"},
                    timeout=timeout,
                )
            if resp.status != 200:
                body = await resp.read()
                resp.release()
                raise _kubo_error(resp.status, body)
            return resp

        resp = await self._with_retries(source.describe(), connect)
        try:
            reader = ChunkReader(resp.content.iter_any().__aiter__())

            async def frames() -> AsyncIterator[tuple[Cid, bytearray]]:
                for cid, size in plan.leaves:
                    yield cid, await reader.readexactly(size)
                if not await reader.at_eof():
                    raise IntegrityError(f"{source.describe()} sent more bytes than {root} holds")

            try:
                await self._pump(frames(), writer, progress)
            except aiohttp.ClientPayloadError as exc:
                raise IntegrityError(f"stream from {source.describe()} broken: {exc}") from exc
            except aiohttp.ClientConnectionError as exc:
                raise IntegrityError(f"stream from {source.describe()} cut: {exc}") from exc
            except TimeoutError as exc:
                raise KuboUnavailable(f"{source.describe()} stalled: {exc!r}") from exc
        finally:
            resp.release()


async def _raw_leaves(
    body: RawBody, plan: _FilePlan, root: Cid
) -> AsyncIterator[tuple[Cid, bytearray]]:
    """Each planned leaf, received straight into its own buffer."""
    total = sum(size for _, size in plan.leaves)
    if body.length != total:
        raise IntegrityError(f"content of {root} is {body.length} bytes, its DAG says {total}")
    for cid, size in plan.leaves:
        buf = bytearray(size)
        await body.readinto(memoryview(buf))
        yield cid, buf


@dataclass(frozen=True, slots=True)
class _FilePlan:
    nodes: list[tuple[Cid, bytes]]  # interior blocks, parents first
    leaves: list[tuple[Cid, int]]  # raw leaves in file order, with the sizes parents announce


def _check_target(target: Path) -> None:
    if target.exists() or target.is_symlink():
        raise IpfsStoreError(f"{target} already exists")
    if not target.parent.is_dir():
        raise IpfsStoreError(f"{target.parent} is not a directory")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _part_headers(relpath: str, *, directory: bool) -> dict[str, str]:
    return {
        "Content-Type": "application/x-directory" if directory else "application/octet-stream",
        "Content-Disposition": f'form-data; name="file"; filename="{quote(relpath, safe="")}"',
    }


async def _aiter_bytes(data: bytes, size: int) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])
