"""A Queue producer binding as :class:`flaresuite.ports.Queue`, and the messages of a batch
delivered to a ``queue`` handler as :class:`flaresuite.index.fanout.Delivery` values.

API: https://developers.cloudflare.com/queues/configuration/javascript-apis/ (``send``;
``MessageBatch.messages``; ``Message.body``, ``ack()``, ``retry()``). Bodies are sent as plain
JS objects (structured clone), so a Python dict arrives as a dict.
"""

from __future__ import annotations

from collections.abc import Mapping

from workers.rpc import _BindingWrapper

from cfbindings.convert import field


class QueueProducer:
    """:class:`flaresuite.ports.Queue` over a producer binding."""

    def __init__(self, binding) -> None:
        self._binding = _BindingWrapper(binding)

    async def send(self, body: Mapping[str, object]) -> None:
        await self._binding.send(dict(body))


class QueueDelivery:
    """One message of a delivered batch."""

    def __init__(self, message) -> None:
        self._message = message

    @property
    def body(self) -> object:
        value = field(self._message, "body")
        # A raw JS object (a batch not wrapped by the SDK) converts on demand.
        return value.to_py() if hasattr(value, "to_py") else value

    def ack(self) -> None:
        self._message.ack()

    def retry(self) -> None:
        self._message.retry()


def deliveries(batch) -> list[QueueDelivery]:
    """The messages of a ``MessageBatch``, in delivery order."""
    return [QueueDelivery(message) for message in field(batch, "messages")]
