"""The client keeps its connections to a registry: every request of a poll, HEADs included,
goes over the connection the last one used (with TLS, a new connection costs a handshake)."""

from __future__ import annotations

import anyio
import pytest
from anyio.abc import SocketStream

from archlag.core.references import api_base_url
from archlag.registry import RegistryClient
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration


class CountingForwarder:
    """Forwards TCP connections to the registry on loopback and counts them."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0

    async def handle(self, client: SocketStream) -> None:
        self.connections += 1
        async with client, await anyio.connect_tcp("127.0.0.1", self.upstream_port) as upstream:

            async def pump(source: SocketStream, target: SocketStream) -> None:
                try:
                    async for data in source:
                        await target.send(data)
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
                finally:
                    await target.send_eof()

            async with anyio.create_task_group() as group:
                group.start_soon(pump, client, upstream)
                group.start_soon(pump, upstream, client)


@pytest.mark.anyio
async def test_heads_and_gets_reuse_one_connection(
    registry: RegistryServer, pusher: Pusher
) -> None:
    for tag in ("1.0", "1.1"):
        pusher.publish("demo/app", tag, "linux/amd64", "linux/arm64")
    forwarder = CountingForwarder(int(registry.host.rsplit(":", 1)[1]))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - not Django
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, forwarder.handle)
        host = f"127.0.0.1:{port}"
        client = RegistryClient(host, api_base_url(host, insecure=True), concurrency=1)
        try:
            with anyio.fail_after(30):
                for _ in range(5):
                    assert sorted(await client.list_tags("demo/app")) == ["1.0", "1.1"]
                    for tag in ("1.0", "1.1"):
                        head = await client.head_manifest("demo/app", tag)
                        assert head.digest is not None
                        await client.get_manifest("demo/app", head.digest)
        finally:
            await client.aclose()
        group.cancel_scope.cancel()
    assert forwarder.connections == 1, "25 requests, HEADs among them, over one connection"
