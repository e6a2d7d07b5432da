"""A Ray Serve deployment that holds each request a while, so that load makes Serve add replicas: examples/serve/autoscaling.yaml."""
import asyncio

from ray import serve
from starlette.requests import Request


@serve.deployment
class Busy:
    async def __call__(self, request: Request) -> str:
        # Stands in for real work (a model's forward pass): the request occupies its replica for this long.
        await asyncio.sleep(float(request.query_params.get("seconds", "0.5")))
        return "done"


app = Busy.bind()
