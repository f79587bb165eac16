"""Routing one logical deployment over two Azure regions, with OpenAI as the last resort.

Three emulator instances stand in for East US, West US and OpenAI. Halfway through, East US goes
down (503s, then dropped connections): every call still returns a validated `User`, the hooks say
which region served each one, and `router.health()` shows East US sitting out its cooldown. Then
both regions go down and OpenAI answers, with its own model name.

Run: python cookbook/router_regions.py
"""

from collections import Counter

from pydantic import BaseModel

import instructor_az
from instructor_az.emulator import Emulator, Fault
from instructor_az.router import Router, Target


class User(BaseModel):
    name: str
    age: int


MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


def main() -> None:
    east, west, openai_side = Emulator(region="East US"), Emulator(region="West US"), Emulator(region="OpenAI")
    router = Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o", weight=3),
            Target(west.client(), name="westus", model="gpt-4o", weight=1),
        ],
        # On OpenAI itself this is OpenAI(api_key="sk-..."); here the emulator's v1 routes play it.
        fallbacks=[Target(openai_side.openai_client(), name="openai", model="gpt-4o-mini")],
        cooldown=30,
    )
    client = instructor_az.from_openai(router)

    served: Counter[str] = Counter()
    client.on("route:served", lambda event: served.update([event.target]))
    client.on("route:failover", lambda event: print(f"  {event.target} failed ({event.reason}), moving on"))

    for _ in range(20):
        client.create(response_model=User, messages=MESSAGES)
    print("all regions up:", dict(served))

    east.inject(Fault.server_error(503), times=5)
    east.inject(Fault.drop_connection(), times=None)
    served.clear()
    users = [client.create(response_model=User, messages=MESSAGES) for _ in range(20)]
    assert all(isinstance(user, User) for user in users)
    print("East US down:", dict(served))
    for health in router.health():
        print(f"  {health.name}: available={health.available} {health.reason or ''}")

    west.inject(Fault.server_error(503), times=None)
    served.clear()
    user = client.create(response_model=User, messages=MESSAGES)
    print("both regions down:", dict(served), user, "asked", openai_side.last_request.body["model"])

    for emulator in (east, west, openai_side):
        emulator.close()


if __name__ == "__main__":
    main()
