"""Script a served emulator over HTTP, as a test in another process or language would.

The emulator runs on loopback (as `instructor-az emulator --backend scripted` would); a plain HTTP
client queues answers and faults through the control API (`/_emulator/...`), then the code under test
talks to it like any Azure endpoint, and the recorded requests are read back, keys redacted.

Run: python cookbook/emulator_over_http.py
"""

import httpx2
from openai import AzureOpenAI
from pydantic import BaseModel

import instructor_az
from instructor_az.emulator import DEFAULT_API_KEY, LATEST_GA, Emulator


class User(BaseModel):
    name: str
    age: int


def main() -> None:
    emulator = Emulator(backend="scripted")
    with (
        emulator.serve() as endpoint,
        httpx2.Client(base_url=f"{endpoint}/_emulator", headers={"api-key": DEFAULT_API_KEY}) as control,
    ):
        # What an outside test does: queue an answer and a rate limit the SDK retries through.
        control.post(
            "/scripted", json={"answers": [{"json": {"name": "John", "age": 30}}]}
        ).raise_for_status()
        control.post(
            "/faults", json={"fault": "rate_limit; retry_after_ms=10", "times": 1}
        ).raise_for_status()

        # The code under test: an ordinary Azure client pointed at the endpoint.
        client = instructor_az.from_openai(
            AzureOpenAI(azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA)
        )
        user = client.chat.completions.create(
            model="gpt-4o",
            response_model=User,
            messages=[{"role": "user", "content": "John is 30 years old"}],
        )
        print(f"extracted: {user!r}")

        recorded = control.get("/requests").json()["data"]
        for request in recorded:
            print(f"  {request['status']} {request['path']}  api-key: {request['headers']['api-key']}")
        control.post("/reset").raise_for_status()
    emulator.close()


if __name__ == "__main__":
    main()
