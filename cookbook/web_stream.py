"""A web page that fills in an extracted object field by field as it streams (Server-Sent Events).

GET / serves a page (cookbook/web_stream.html: a form and a little vanilla JavaScript); POST /extract
with `{"text": ...}` streams `instructor_az.web.partial_events` as `text/event-stream`: each partial,
a re-ask when an answer fails validation, then the validated object, or an error event (a content
filter, validation exhausted) that the page shows.

Run:
    python cookbook/web_stream.py                    # self-check: serve, stream one request, print, stop
    python cookbook/web_stream.py --serve            # the demo on http://127.0.0.1:8000, the local model
    python cookbook/web_stream.py --serve --backend scripted   # the same with canned answers
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, List

import httpx2
import uvicorn
from pydantic import AfterValidator, BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import instructor_az
from instructor_az.emulator import BackendError, Emulator, Fault, LocalModelUnavailableError
from instructor_az.web import partial_events, sse_response

PAGE = Path(__file__).with_suffix(".html")


def _an_address(value: str) -> str:
    if "@" not in value:
        raise ValueError("email must be an address like name@example.com")
    return value


class Contact(BaseModel):
    """A contact extracted from a message, in the order the page shows it."""

    name: str = Field(description="The person's full name")
    company: str = Field(description="The company they work for")
    email: Annotated[str, AfterValidator(_an_address)] = Field(description="Their email address")
    city: str = Field(description="The city they are in")
    topics: List[str] = Field(max_length=4, description="What they want to talk about, a few words each")
    summary: str = Field(description="One short sentence")


SYSTEM = "Extract the contact from the user's text."
DEMO = {
    "name": "Jane Doe",
    "company": "Acme Corp",
    "email": "jane@acme.example",
    "city": "Lisbon",
    "topics": ["pricing", "the API"],
    "summary": "Runs Acme's Lisbon office; wants to discuss pricing and the API.",
}


def create_app(
    client: instructor_az.AsyncInstructor, model: str = "gpt-4o", max_retries: int = 2, **create_kwargs: Any
) -> Starlette:
    """The page and its streaming endpoint, for `client` (an async instructor-az client); `create_kwargs`
    go to each `create_partial` call (`max_tokens=...`)."""

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def extract(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return JSONResponse({"error": 'send {"text": "..."}'}, status_code=400)
        events = partial_events(
            client,
            response_model=Contact,
            model=model,
            max_retries=max_retries,
            **create_kwargs,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": text[:4000]}],
        )
        return sse_response(events)

    return Starlette(routes=[Route("/", page), Route("/extract", extract, methods=["POST"])])


@contextlib.contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` with uvicorn from a background thread; yields its URL (`http://127.0.0.1:PORT/`)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="web-stream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web app did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}/"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)


def read_events(url: str, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """POST `text` to the app's /extract and yield each (event, data) as it streams."""
    with (
        httpx2.Client(timeout=30) as http,
        http.stream("POST", url + "extract", json={"text": text}) as response,
    ):
        response.raise_for_status()
        name, data = "message", []
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                yield name, json.loads("\n".join(data))
                name, data = "message", []


def self_check() -> None:
    """Serve the app on loopback against a scripted emulator, stream two requests through it, print, stop."""
    emulator = Emulator(backend="scripted", chunk_chars=12)
    client = instructor_az.from_openai(emulator.async_client())
    with serving(create_app(client)) as url:
        with httpx2.Client() as http:
            page = http.get(url)
        print(f"GET {url} -> {page.status_code}, {len(page.text)} characters, form: {'<form' in page.text}")

        print("\nPOST /extract (the first answer's email fails validation, so it is re-asked):")
        emulator.scripted.push({**DEMO, "email": "jane at acme"}, DEMO)
        for name, data in read_events(
            url, "Jane Doe (jane@acme.example) runs the Lisbon office of Acme Corp."
        ):
            if name == "partial":
                print(f"  partial  attempt {data['attempt']}  complete: {data['complete']}")
            elif name == "reask":
                print(f"  reask    attempt {data['attempt']}: {data['errors']}")
            else:
                print(f"  {name:<8} {json.dumps(data['data'] if name == 'final' else data)}")

        print("\nPOST /extract (Azure's content filter stops the answer):")
        emulator.scripted.push(Fault.completion_filter(after_chars=30, violence="high"), DEMO)
        for name, data in read_events(url, "..."):
            if name != "partial":
                print(f"  {name:<8} {data['type']}: categories {data.get('filtered_categories')}")
    print(f"\nthe emulator answered {len(emulator.requests)} requests")


def serve(backend: str, host: str, port: int) -> None:
    """Serve the demo until Ctrl-C: the local model (Gemma 3 270M, the `local` extra), or canned answers."""
    if backend == "local":
        emulator = Emulator(backend="local")
        try:
            print(f"local model loaded in {emulator.backend.load():.1f} s", flush=True)
        except (LocalModelUnavailableError, BackendError) as exc:
            raise SystemExit(f"{exc}\n(or serve canned answers: --serve --backend scripted)") from None
    else:
        emulator = Emulator(backend="scripted", chunk_chars=3)
        emulator.scripted.on(lambda request: True, DEMO)
        emulator.inject(Fault.latency(0, chunk_seconds=0.08), times=None)  # slow enough to watch
    client = instructor_az.from_openai(emulator.async_client())
    print(f"serving on http://{host}:{port}/ (backend: {backend}); Ctrl-C to stop", flush=True)
    limits = {"max_tokens": 200} if backend == "local" else {}  # a small model can ramble: cap it
    uvicorn.run(create_app(client, **limits), host=host, port=port, log_level="info")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help="keep serving the page (default: a self-check)")
    parser.add_argument("--backend", choices=["local", "scripted"], default="local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.serve:
        serve(args.backend, args.host, args.port)
    else:
        self_check()


if __name__ == "__main__":
    main()
