"""Generate a typed Python package from runtime metadata (V14, V15 or V16).

    python -m runtime_types.codegen METADATA.scale --out DIR
    python -m runtime_types.codegen --url ws://127.0.0.1:9944 --out DIR

devnode's committed bindings: `make bindings` (devnode writes its metadata to a file with
`python -m devnode --write-metadata FILE`, then this generates from that file).

The package has `types.py` (every composite as a frozen dataclass, every enum as a union of
frozen dataclasses, one per variant), one subpackage per pallet (`calls`, `events`, `errors`,
`storage`, `constants`, and from V16 `view_functions`) and `__init__.py` with the metadata hash,
the extrinsic versions the runtime accepts and a ready `BINDINGS`. `--url` takes the newest
metadata the node offers (`Metadata_metadata_at_version`).
"""

from __future__ import annotations

import argparse
import base64
import keyword
import re
import shutil
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._codec import Codec, is_option
from ._errors import RuntimeTypesError
from ._hash import pallet_hashes
from ._metadata import (
    ArrayDef,
    BitSequenceDef,
    CompactDef,
    CompositeDef,
    FieldMeta,
    Metadata,
    PalletMeta,
    PortableType,
    PrimitiveDef,
    SequenceDef,
    TupleDef,
    VariantDef,
    decode_metadata,
)

__all__ = [
    "DEVNODE_COMMAND",
    "DEVNODE_OUT",
    "GeneratedPackage",
    "generate",
    "main",
    "render_package",
]

#: Single-field wrappers that are represented by their field's value.
TRANSPARENT = frozenset(
    {
        "BoundedVec",
        "WeakBoundedVec",
        "BoundedBTreeMap",
        "BoundedBTreeSet",
        "BTreeMap",
        "BTreeSet",
        "Cow",
        "Box",
        "Rc",
        "Arc",
    }
)
#: Module path segments that add nothing to a type's name.
_SKIP_SEGMENTS = frozenset({"pallet", "types", "primitives", "v1", "v2", "v3", "generic"})
_RESERVED = frozenset(
    {
        "types",
        "Call",
        "StorageEntry",
        "ModuleError",
        "PALLET",
        "PALLET_INDEX",
        "ERRORS",
        "Final",
        "annotations",
        "Event",
    }
)
REGENERATE_HINT = "python -m runtime_types.codegen"
#: Where devnode's committed bindings live, and the one command that regenerates them (the
#: Makefile target writes devnode's V16 metadata to a file and generates from it).
DEVNODE_OUT = "runtime_types/generated/devnode"
DEVNODE_COMMAND = "make bindings"


def snake(name: str) -> str:
    out = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return re.sub(r"\W", "_", out)


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


def ident(name: str) -> str:
    name = re.sub(r"\W", "_", name)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _RESERVED:
        return name + "_"
    if name[:1].isdigit():
        return "_" + name
    return name


def docstring(lines: Sequence[str], indent: str = "    ", lead: str = "") -> str:
    text = "\n".join(line.rstrip() for line in ([lead, ""] if lead else []) + list(lines))
    text = text.strip()
    if not text:
        return ""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "
    body = text.replace("\n", "\n" + indent)
    body = "\n".join(line.rstrip() for line in body.split("\n"))
    multi = "\n" in text
    return f'{indent}"""{body}{chr(10) + indent if multi else ""}"""\n'


def field_names(fields: Sequence[FieldMeta]) -> list[str]:
    if len(fields) == 1 and fields[0].name is None:
        return ["value"]
    names = [ident(f.name) if f.name else f"field{i}" for i, f in enumerate(fields)]
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


class _Names:
    """Python names and annotations for the types of one registry."""

    def __init__(self, metadata: Metadata) -> None:
        self.types = metadata.types
        self.class_of: dict[int, str] = {}  # composite -> class, enum -> union alias
        self.variant_class: dict[tuple[int, int], str] = {}
        named = [t for t in sorted(self.types.values(), key=lambda t: t.id) if self._named(t)]
        paths: list[tuple[str, ...]] = []
        for t in named:
            if t.path not in paths:
                paths.append(t.path)
        chosen = self._choose(paths)
        used: set[str] = set()
        counts: Counter[tuple[str, ...]] = Counter()
        for t in named:
            counts[t.path] += 1
            base = chosen[t.path] + (str(counts[t.path]) if counts[t.path] > 1 else "")
            self.class_of[t.id] = self._unique(base, used)
        for t in named:
            if isinstance(t.definition, VariantDef):
                for v in t.definition.variants:
                    name = self._unique(self.class_of[t.id] + camel(v.name), used)
                    self.variant_class[(t.id, v.index)] = name

    @staticmethod
    def _unique(base: str, used: set[str]) -> str:
        name, n = base, 1
        while name in used or keyword.iskeyword(name):
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    @staticmethod
    def _choose(paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
        significant = {
            p: (*tuple(s for s in p[:-1] if s not in _SKIP_SEGMENTS), p[-1])
            if p
            else ("Anonymous",)
            for p in paths
        }
        longest = max((len(s) for s in significant.values()), default=1)
        by_k = [
            Counter(camel("_".join(s[-k:])) for s in significant.values())
            for k in range(longest + 1)
        ]
        chosen = {}
        for p, sig in significant.items():
            for k in range(1, len(sig) + 1):
                name = camel("_".join(sig[-k:]))
                if by_k[k][name] == 1:
                    break
            chosen[p] = name
        return chosen

    def _named(self, t: PortableType) -> bool:
        d = t.definition
        if isinstance(d, CompositeDef):
            return not self.transparent(t)
        return isinstance(d, VariantDef) and not is_option(t)

    def transparent(self, t: PortableType) -> bool:
        d = t.definition
        return (
            isinstance(d, CompositeDef)
            and len(d.fields) == 1
            and (not t.path or t.path[-1] in TRANSPARENT)
        )

    def annotation(self, type_id: int, prefix: str = "", depth: int = 0) -> str:
        if depth > 50:
            return "object"
        if type_id in self.class_of:
            return prefix + self.class_of[type_id]
        t = self.types[type_id]
        d = t.definition

        def inner(i: int) -> str:
            return self.annotation(i, prefix, depth + 1)

        if isinstance(d, PrimitiveDef):
            return {"bool": "bool", "char": "str", "str": "str"}.get(d.name, "int")
        if isinstance(d, CompactDef):
            return inner(d.type)
        if isinstance(d, SequenceDef | ArrayDef):
            item = self.types[d.type].definition
            if isinstance(item, PrimitiveDef) and item.name == "u8":
                return "bytes"
            return f"list[{inner(d.type)}]"
        if isinstance(d, TupleDef):
            if not d.types:
                return "None"
            return "tuple[" + ", ".join(inner(i) for i in d.types) + "]"
        if isinstance(d, BitSequenceDef):
            return "list[bool]"
        if isinstance(d, CompositeDef):  # transparent
            return inner(d.fields[0].type)
        assert isinstance(d, VariantDef)  # Option
        wrapped = inner(d.variants[1].fields[0].type)
        return wrapped if wrapped == "None" or wrapped.endswith("| None") else f"{wrapped} | None"


@dataclass(frozen=True)
class GeneratedPackage:
    """File contents by relative path."""

    files: dict[str, str]
    metadata_hash: str


class _Renderer:
    """Python literals for decoded constant values (decoded without classes)."""

    def __init__(self, names: _Names, types: Any) -> None:
        self.names = names
        self.types = types

    def render(self, type_id: int, value: Any) -> str:
        t = self.types[type_id]
        d = t.definition
        if isinstance(d, PrimitiveDef):
            return repr(value)
        if isinstance(d, CompactDef):
            return self.render(d.type, value)
        if isinstance(d, SequenceDef | ArrayDef):
            if isinstance(value, bytes):
                return repr(value) if len(value) <= 32 else f'bytes.fromhex("{value.hex()}")'
            return "[" + ", ".join(self.render(d.type, v) for v in value) + "]"
        if isinstance(d, TupleDef):
            if not d.types:
                return "None"
            items = [self.render(i, v) for i, v in zip(d.types, value, strict=True)]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(d, BitSequenceDef):
            return repr(list(value))
        if isinstance(d, CompositeDef):
            if self.names.transparent(t):
                return self.render(d.fields[0].type, value)
            return self._construct(self.names.class_of[type_id], d.fields, value)
        assert isinstance(d, VariantDef)
        if is_option(t):
            return "None" if value is None else self.render(d.variants[1].fields[0].type, value)
        name, payload = value
        variant = next(v for v in d.variants if v.name == name)
        return self._construct(
            self.names.variant_class[(type_id, variant.index)], variant.fields, payload
        )

    def _construct(self, cls: str, fields: tuple[FieldMeta, ...], payload: Any) -> str:
        if not fields:
            values: list[Any] = []
        elif len(fields) == 1:
            values = [payload]
        elif fields[0].name is None:
            values = list(payload)
        else:
            values = [payload[f.name] for f in fields]
        names = field_names(fields)
        args = ", ".join(
            f"{n}={self.render(f.type, v)}" for n, f, v in zip(names, fields, values, strict=True)
        )
        return f"types.{cls}({args})"


_NOQA = "# ruff: noqa: RUF001, RUF002, RUF003, RUF100\n"


def _header(doc: str) -> str:
    return f'"""{doc}"""\n\n# Generated by runtime_types.codegen: do not edit.\n{_NOQA}\nfrom __future__ import annotations\n\n'


def render_types(metadata: Metadata, names: _Names) -> str:
    out = [_header("Every composite and enum type of the runtime, as frozen dataclasses.")]
    out.append("import dataclasses as _dc\nimport typing as _t\n\n")
    aliases = []
    for type_id in sorted(names.class_of):
        t = metadata.types[type_id]
        d = t.definition
        path = "::".join(t.path) or "(anonymous)"
        if isinstance(d, CompositeDef):
            out.append(_dataclass(names, names.class_of[type_id], d.fields, t.docs, path, type_id))
        else:
            assert isinstance(d, VariantDef)
            members = []
            for v in d.variants:
                cls = names.variant_class[(type_id, v.index)]
                members.append(cls)
                out.append(
                    _dataclass(
                        names, cls, v.fields, v.docs, f"{path}::{v.name}", type_id, v.index, v.name
                    )
                )
            alias = names.class_of[type_id]
            union = " | ".join(members) if members else "_t.Never"
            doc = f"#: `{path}`" + (f": {t.docs[0].strip()}" if t.docs else "")
            aliases.append(f"{doc}\n{alias}: _t.TypeAlias = {union}\n")
    out.append("\n# Enums: the union of their variants' classes.\n\n")
    out.append("\n".join(aliases))
    return "".join(out)


def _dataclass(
    names: _Names,
    cls: str,
    fields: tuple[FieldMeta, ...],
    docs: tuple[str, ...],
    path: str,
    type_id: int,
    variant_index: int | None = None,
    variant_name: str | None = None,
) -> str:
    lines = ["\n\n@_dc.dataclass(frozen=True)", f"class {cls}:"]
    text = docstring(docs, lead=f"`{path}`")
    body = [text.rstrip("\n")] if text else []
    body.append(f"    __type_id__: _t.ClassVar[int] = {type_id}")
    if variant_index is not None:
        body.append(f"    __variant_index__: _t.ClassVar[int] = {variant_index}")
        body.append(f"    __variant_name__: _t.ClassVar[str] = {variant_name!r}")
    for name, f in zip(field_names(fields), fields, strict=True):
        body.append(f"    {name}: {names.annotation(f.type)}")
        if f.docs:
            body.append(docstring(f.docs).rstrip("\n"))
    return "\n".join(lines) + "\n" + "\n".join(body) + "\n"


def _module_names(metadata: Metadata) -> dict[str, str]:
    used: set[str] = {"types"}
    out = {}
    for pallet in metadata.pallets:
        name = snake(pallet.name)
        if name in used or keyword.iskeyword(name) or name.startswith("_"):
            name += "_pallet"
        used.add(name)
        out[pallet.name] = name
    return out


def render_calls(metadata: Metadata, names: _Names, pallet: PalletMeta) -> str:
    assert pallet.calls is not None
    d = metadata.types[pallet.calls].definition
    assert isinstance(d, VariantDef)
    out = [_header(f"Calls of the {pallet.name} pallet: each returns a typed `Call`.")]
    out.append(
        "from typing import Final\n\nfrom runtime_types import Call\n\nfrom .. import types\n\n"
    )
    out.append(f'PALLET: Final = "{pallet.name}"\nPALLET_INDEX: Final = {pallet.index}\n')
    for v in d.variants:
        cls = names.variant_class[(pallet.calls, v.index)]
        params = field_names(v.fields)
        args = ", ".join(
            f"{p}: {names.annotation(f.type, 'types.')}"
            for p, f in zip(params, v.fields, strict=True)
        )
        lines = [f"\n\ndef {ident(v.name)}({args}) -> Call[types.{cls}]:"]
        text = docstring(v.docs)
        if text:
            lines.append(text.rstrip("\n"))
        call_args = ", ".join(params)
        lines.append(f'    return Call(PALLET, PALLET_INDEX, "{v.name}", types.{cls}({call_args}))')
        out.append("\n".join(lines) + "\n")
    return "".join(out)


def render_events(metadata: Metadata, names: _Names, pallet: PalletMeta) -> str:
    assert pallet.event is not None
    d = metadata.types[pallet.event].definition
    assert isinstance(d, VariantDef)
    out = [_header(f"Events of the {pallet.name} pallet (aliases of classes in `types`).")]
    exports = []
    imports = [f"from ..types import {names.class_of[pallet.event]} as Event"]
    exports.append("Event")
    for v in d.variants:
        alias = ident(camel(v.name))
        exports.append(alias)
        cls = names.variant_class[(pallet.event, v.index)]
        imports.append(
            f"from ..types import {cls} as {alias}"
            if cls != alias
            else f"from ..types import {cls}"
        )
    out.append("\n".join(imports) + "\n\n")
    out.append("__all__ = [" + ", ".join(f'"{e}"' for e in sorted(exports)) + "]\n")
    return "".join(out)


def render_errors(metadata: Metadata, pallet: PalletMeta) -> str:
    assert pallet.error is not None
    d = metadata.types[pallet.error].definition
    out = [_header(f"Errors of the {pallet.name} pallet, raised from failed dispatches.")]
    out.append("from runtime_types import ModuleError\n")
    classes = []
    if isinstance(d, VariantDef):
        for v in d.variants:
            cls = ident(camel(v.name))
            classes.append(cls)
            lines = [f"\n\nclass {cls}(ModuleError):"]
            text = docstring(v.docs)
            if text:
                lines.append(text.rstrip("\n") + "\n")
            lines.append(f'    pallet = "{pallet.name}"')
            lines.append(f"    pallet_index = {pallet.index}")
            lines.append(f'    error = "{v.name}"')
            lines.append(f"    error_index = {v.index}")
            out.append("\n".join(lines) + "\n")
    items = "".join(f"{c}, " for c in classes)
    out.append(f"\n\nERRORS: tuple[type[ModuleError], ...] = ({items})\n")
    return "".join(out)


def render_storage(metadata: Metadata, names: _Names, pallet: PalletMeta) -> str:
    out = [_header(f"Storage of the {pallet.name} pallet: each returns a typed `StorageEntry`.")]
    out.append(
        "from typing import Final\n\nfrom runtime_types import StorageEntry\n\nfrom .. import types\n\n"
    )
    out.append(f'PALLET: Final = "{pallet.name}"\n')
    for entry in pallet.storage:
        if entry.key is None:
            key_types: list[int] = []
        elif len(entry.hashers) == 1:
            key_types = [entry.key]
        else:
            kd = metadata.types[entry.key].definition
            assert isinstance(kd, TupleDef) and len(kd.types) == len(entry.hashers)
            key_types = list(kd.types)
        params = ["key"] if len(key_types) == 1 else [f"key{i + 1}" for i in range(len(key_types))]
        value = names.annotation(entry.value, "types.")
        if entry.modifier == "Optional" and not value.endswith("| None") and value != "None":
            value += " | None"
        args = ", ".join(
            f"{p}: {names.annotation(k, 'types.')}" for p, k in zip(params, key_types, strict=True)
        )
        lines = [f"\n\ndef {ident(snake(entry.name))}({args}) -> StorageEntry[{value}]:"]
        text = docstring(entry.docs)
        if text:
            lines.append(text.rstrip("\n"))
        default = (
            f'bytes.fromhex("{entry.default.hex()}")' if entry.modifier == "Default" else "None"
        )
        keys = "(" + "".join(f"{p}, " for p in params).rstrip(" ") + ")"
        lines.append(
            f'    return StorageEntry(PALLET, "{entry.name}", {tuple(entry.hashers)!r}, '
            f"{tuple(key_types)!r}, {keys}, {entry.value}, {default}, "
            f'"{pallet.storage_prefix or pallet.name}")'
        )
        out.append("\n".join(lines) + "\n")
    return "".join(out)


def render_constants(metadata: Metadata, names: _Names, pallet: PalletMeta) -> str:
    out = [_header(f"Constants of the {pallet.name} pallet, decoded at generation time.")]
    body: list[str] = []
    codec = Codec(metadata.types)
    renderer = _Renderer(names, metadata.types)
    for constant in pallet.constants:
        value = renderer.render(constant.type, codec.decode(constant.type, constant.value))
        annotation = names.annotation(constant.type, "types.")
        body.append(f"\n{ident(snake(constant.name).upper())}: Final[{annotation}] = {value}\n")
        text = docstring(constant.docs, indent="")
        if text:
            body.append(text)
    uses_types = any("types." in line for line in body)
    out.append("from typing import Final\n\n" + ("from .. import types\n\n" if uses_types else ""))
    return "".join(out + body)


def render_view_functions(metadata: Metadata, names: _Names, pallet: PalletMeta) -> str:
    out = [
        _header(
            f"View functions of the {pallet.name} pallet (metadata V16): each returns a typed "
            "`ViewFunction`, run with `ChainClient.view`."
        )
    ]
    out.append(
        "from typing import Final\n\nfrom runtime_types import ViewFunction\n\nfrom .. import types\n\n"
    )
    out.append(f'PALLET: Final = "{pallet.name}"\n')
    for view in pallet.view_functions:
        params = [
            ident(snake(name)) if name else f"arg{i}" for i, (name, _) in enumerate(view.inputs)
        ]
        args = ", ".join(
            f"{p}: {names.annotation(t, 'types.')}"
            for p, (_, t) in zip(params, view.inputs, strict=True)
        )
        output = names.annotation(view.output, "types.")
        lines = [f"\n\ndef {ident(snake(view.name))}({args}) -> ViewFunction[{output}]:"]
        text = docstring(view.docs)
        if text:
            lines.append(text.rstrip("\n"))
        inputs = "(" + "".join(f"{t}, " for _, t in view.inputs).rstrip(" ") + ")"
        values = "(" + "".join(f"{p}, " for p in params).rstrip(" ") + ")"
        lines.append(
            f'    return ViewFunction(PALLET, "{view.name}", bytes.fromhex("{view.id.hex()}"), '
            f"{inputs}, {values}, {view.output})"
        )
        out.append("\n".join(lines) + "\n")
    return "".join(out)


def render_pallet_init(pallet: PalletMeta, parts: list[str]) -> str:
    doc = docstring(
        pallet.docs, indent="", lead=f"The {pallet.name} pallet (index {pallet.index})."
    )
    lines = [doc.rstrip("\n"), "", "# Generated by runtime_types.codegen: do not edit."]
    lines.append(_NOQA)
    if parts:
        lines.append(f"from . import {', '.join(parts)}\n")
    lines.append("__all__ = [" + ", ".join(f'"{p}"' for p in parts) + "]")
    return "\n".join(lines) + "\n"


def render_package(metadata: Metadata, command: str = REGENERATE_HINT) -> GeneratedPackage:
    names = _Names(metadata)
    modules = _module_names(metadata)
    files: dict[str, str] = {"types.py": render_types(metadata, names)}
    error_modules = []
    for pallet in metadata.pallets:
        module = modules[pallet.name]
        parts = []
        if pallet.calls is not None:
            files[f"{module}/calls.py"] = render_calls(metadata, names, pallet)
            parts.append("calls")
        if pallet.constants:
            files[f"{module}/constants.py"] = render_constants(metadata, names, pallet)
            parts.append("constants")
        if pallet.error is not None:
            files[f"{module}/errors.py"] = render_errors(metadata, pallet)
            parts.append("errors")
            error_modules.append(module)
        if pallet.event is not None:
            files[f"{module}/events.py"] = render_events(metadata, names, pallet)
            parts.append("events")
        if pallet.storage:
            files[f"{module}/storage.py"] = render_storage(metadata, names, pallet)
            parts.append("storage")
        if pallet.view_functions:
            files[f"{module}/view_functions.py"] = render_view_functions(metadata, names, pallet)
            parts.append("view_functions")
        files[f"{module}/__init__.py"] = render_pallet_init(pallet, parts)
    packed = base64.b64encode(zlib.compress(metadata.raw, 9)).decode()
    chunks = "\n".join(f'    "{packed[i : i + 88]}"' for i in range(0, len(packed), 88))
    files["_metadata.py"] = (
        _header("The metadata these bindings were generated from (zlib, base64).")
        + "import base64\nimport zlib\n\n"
        + f"METADATA: bytes = zlib.decompress(\n  base64.b64decode(\n{chunks}\n  )\n)\n"
    )
    hashes = pallet_hashes(metadata)
    hash_lines = "".join(f'    "{k}": "{v}",\n' for k, v in hashes.items())
    pallet_modules = sorted(modules.values())
    errors = "".join(f"    *{m}.errors.ERRORS,\n" for m in error_modules)
    init = [
        _header(
            f"Typed bindings for runtime metadata V{metadata.version}.\n\n"
            f"Regenerate with `{command}`."
        ),
        "from collections.abc import Mapping\nfrom typing import Final\n\n",
        "from runtime_types import Bindings\n\n",
        f"from . import {', '.join([*pallet_modules, 'types'])}\n",
        "from ._metadata import METADATA\n\n",
        f'#: blake2b-256 of the metadata bytes\nMETADATA_HASH: Final = "{metadata.hash}"\n',
        f"METADATA_VERSION: Final = {metadata.version}\n",
        "#: Extrinsic versions the runtime accepts (signed transactions use version 4)\n",
        f"EXTRINSIC_VERSIONS: Final = {tuple(metadata.extrinsic.versions)!r}\n",
        "#: Structural hash of each pallet, compared with the node's on connect\n",
        f"PALLET_HASHES: Final[Mapping[str, str]] = {{\n{hash_lines}}}\n",
        "#: Pallet name -> module\n",
        "PALLETS: Final = {\n"
        + "".join(f'    "{p.name}": {modules[p.name]},\n' for p in metadata.pallets)
        + "}\n",
        "BINDINGS: Final = Bindings.create(\n    METADATA,\n    vars(types),\n"
        f"    errors=(\n{errors}    ),\n    pallet_hashes=PALLET_HASHES,\n)\n\n",
        "__all__ = ["
        + ", ".join(
            f'"{n}"'
            for n in sorted(
                [
                    "BINDINGS",
                    "METADATA",
                    "METADATA_HASH",
                    "METADATA_VERSION",
                    "EXTRINSIC_VERSIONS",
                    "PALLETS",
                    "PALLET_HASHES",
                    *pallet_modules,
                    "types",
                ]
            )
        )
        + "]\n",
    ]
    files["__init__.py"] = "".join(init)
    for rel, text in files.items():
        if text.isascii():
            files[rel] = text.replace(_NOQA, "")
    files["py.typed"] = ""
    return GeneratedPackage(files, metadata.hash)


def _ruff() -> list[str] | None:
    candidate = Path(sys.executable).parent / "ruff"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("ruff")
    return [found] if found else None


def generate(
    metadata: bytes | Metadata, out: Path, *, command: str = REGENERATE_HINT, fmt: bool = True
) -> GeneratedPackage:
    """Write the package for `metadata` into `out` (replacing what was there)."""
    decoded = metadata if isinstance(metadata, Metadata) else decode_metadata(metadata)
    package = render_package(decoded, command)
    if out.exists():
        shutil.rmtree(out)
    for rel, text in package.files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    ruff = _ruff() if fmt else None
    if ruff is not None:
        subprocess.run(
            [*ruff, "check", "--fix-only", "--quiet", "--select", "I,F401", "--isolated", str(out)],
            check=False,
            capture_output=True,
        )
        subprocess.run(
            [*ruff, "format", "--quiet", "--line-length", "100", str(out)],
            check=True,
            capture_output=True,
        )
    return package


def _fetch_from_url(url: str) -> bytes:
    from substrateinterface import SubstrateInterface

    substrate = SubstrateInterface(url=url)
    try:
        # The newest version both sides know; nodes without the versions API answer V14.
        reply = substrate.rpc_request("state_call", ["Metadata_metadata_versions", "0x"])
        offered = _u32_vec(bytes.fromhex(str(reply.get("result") or "0x").removeprefix("0x")))
        for version in sorted(set(offered) & {14, 15, 16}, reverse=True):
            answer = substrate.rpc_request(
                "state_call",
                ["Metadata_metadata_at_version", "0x" + version.to_bytes(4, "little").hex()],
            )["result"]
            data = bytes.fromhex(answer.removeprefix("0x"))
            if data[:1] == b"\x01":
                return data  # Option<OpaqueMetadata>: decode_metadata unwraps it
        result = substrate.rpc_request("state_getMetadata", [])["result"]
    finally:
        substrate.close()
    return bytes.fromhex(result.removeprefix("0x"))


def _u32_vec(data: bytes) -> list[int]:
    from ._scale import Reader

    try:
        reader = Reader(data)
        return [reader.uint(4) for _ in range(reader.compact())]
    except IndexError:
        return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime_types.codegen", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("metadata", nargs="?", type=Path, help="a metadata .scale file")
    source.add_argument("--url", help="a node's WebSocket or HTTP URL")
    parser.add_argument("--out", type=Path, required=True, help="the package directory to write")
    parser.add_argument("--no-format", action="store_true", help="skip ruff format")
    parser.add_argument(
        "--command",
        help="the regenerate command the package's docstring names (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.url:
        raw = _fetch_from_url(args.url)
        command = f"python -m runtime_types.codegen --url {args.url} --out {args.out.as_posix()}"
    else:
        try:
            raw = args.metadata.read_bytes()
        except OSError as exc:
            print(f"error: cannot read the metadata file: {exc}", file=sys.stderr)
            return 1
        command = (
            f"python -m runtime_types.codegen {args.metadata.name} --out {args.out.as_posix()}"
        )
    try:
        package = generate(raw, args.out, command=args.command or command, fmt=not args.no_format)
    except RuntimeTypesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(package.files)} files to {args.out} (metadata {package.metadata_hash})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
