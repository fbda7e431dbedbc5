"""Fixtures of the tests that hold on both chains: one chain per module and chain kind
(`chain_kind`, tests/chains.py), and an unmodified substrate-interface client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from substrateinterface import SubstrateInterface

from tests.chains import ChainKind, ChainUnderTest, running_chain


@pytest.fixture(scope="module")
def chain_node(chain_kind: ChainKind) -> Iterator[ChainUnderTest]:
    yield from running_chain(chain_kind)


@pytest.fixture
def substrate(chain_node: ChainUnderTest) -> Iterator[SubstrateInterface]:
    client = SubstrateInterface(url=chain_node.url)
    yield client
    client.close()
