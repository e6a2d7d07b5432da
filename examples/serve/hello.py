"""A small Ray Serve application for examples/serve/hello.yaml: GET /hello?name=you answers "hello, you"."""
from ray import serve
from starlette.requests import Request


@serve.deployment
class Hello:
    def __init__(self, greeting: str = "hello"):
        self.greeting = greeting

    async def __call__(self, request: Request) -> str:
        return f"{self.greeting}, {request.query_params.get('name', 'world')}"


# `import_path: hello:app` deploys this one; `import_path: hello:build` with `args: {greeting: ...}` another greeting.
app = Hello.bind()


def build(args: dict):
    return Hello.bind(args.get("greeting", "hello"))
