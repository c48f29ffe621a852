"""A Worker that produces to and consumes from Cloudflare Queues, for the lane's queue tests.

``POST /send`` sends ``{"bodies": [...], "batch": bool, "content_type": ..., "delay": ...}``
through the ``JOBS`` producer binding. The consumer logs one JSON line per message it sees
(what each attribute looked like from Python) and then does what the body's ``"do"`` asks:
``ack`` (default), ``retry``, ``raise``, ``ack_all``, ``retry_all`` or ``nothing``;
``"do_on_attempt"`` maps an attempt number to a different action for that attempt.
"""

import datetime
import json

from workers import Response, WorkerEntrypoint


def _action(body, attempts):
    if not isinstance(body, dict):
        return "ack"
    by_attempt = body.get("do_on_attempt") or {}
    return by_attempt.get(str(attempts), body.get("do", "ack"))


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        order = await request.json()
        options = {}
        if order.get("content_type"):
            options["contentType"] = order["content_type"]
        if order.get("delay"):
            options["delaySeconds"] = order["delay"]
        if order.get("batch"):
            messages = [{"body": body, **options} for body in order["bodies"]]
            await self.env.JOBS.sendBatch(messages)
        else:
            for body in order["bodies"]:
                await self.env.JOBS.send(body, **options)
        return Response("sent", status=202)

    async def queue(self, batch, env, ctx):
        raise_after = False
        for message in batch.messages:
            body = message.body
            print(
                json.dumps(
                    {
                        "queue": batch.queue,
                        "batch_size": len(batch.messages),
                        "id": message.id,
                        "attempts": message.attempts,
                        "timestamp_is_datetime": isinstance(message.timestamp, datetime.datetime),
                        "body_type": type(body).__name__,
                        "body": body if isinstance(body, (dict, list, str, int)) else repr(body),
                    }
                )
            )
            action = _action(body, message.attempts)
            if action == "ack":
                message.ack()
            elif action == "retry":
                message.retry()
            elif action == "ack_all":
                batch.ackAll()
            elif action == "retry_all":
                batch.retryAll()
            elif action == "raise":
                raise_after = True
        if raise_after:
            raise RuntimeError("consumer failed on purpose")
