"""Extraction on Azure's Responses API: the same `response_model`, asked through `client.responses`.

A support ticket becomes a validated `Ticket` twice (with `text.format` json_schema, and with a strict
function tool), once as partial objects streamed from the Responses events, and once through a re-ask:
the first answer breaks a validator, so the next request names it by `previous_response_id` and sends
only the errors. The emulator plays Azure (api-version 2025-04-01-preview); on Azure you pass your
endpoint and key instead.

Run: python cookbook/responses_extract.py
"""

from typing import Literal

from pydantic import BaseModel, field_validator

import instructor_az
from instructor_az.emulator import Emulator


class Ticket(BaseModel):
    customer: str
    product: str
    urgency: Literal["low", "medium", "high"]
    summary: str

    @field_validator("summary")
    @classmethod
    def short(cls, value: str) -> str:
        if len(value.split()) > 12:
            raise ValueError("keep the summary to 12 words or fewer")
        return value


TEXT = "Hi, Dana here. The X200 kettle I bought stopped heating this morning and I have guests tonight!"
ANSWER = {"customer": "Dana", "product": "X200 kettle", "urgency": "high", "summary": "Kettle stopped heating"}


def main() -> None:
    emulator = Emulator(backend="scripted")
    raw = emulator.client(api_version="2025-04-01-preview")

    for mode in (instructor_az.Mode.RESPONSES_JSON_SCHEMA, instructor_az.Mode.RESPONSES_TOOLS):
        client = instructor_az.from_openai(raw, mode=mode, model="gpt-4o")
        emulator.scripted.push(ANSWER)
        ticket = client.responses.create(response_model=Ticket, input=TEXT)
        print(f"{mode.value}: {ticket}")

    client = instructor_az.from_openai(raw, mode=instructor_az.Mode.RESPONSES_JSON_SCHEMA, model="gpt-4o")
    emulator.scripted.push(ANSWER)
    for partial in client.responses.create_partial(response_model=Ticket, input=TEXT):
        print("  partial:", partial.model_dump(exclude_none=True))

    long_summary = "The customer's kettle, model X200, stopped heating this morning and guests arrive tonight"
    emulator.scripted.push({**ANSWER, "summary": long_summary}, ANSWER)
    client.on("parse:error", lambda error: print("  re-asking:", str(error).splitlines()[0]))
    ticket, response = client.responses.create_with_completion(response_model=Ticket, input=TEXT)
    reask = emulator.last_request.body
    print("after a re-ask:", ticket)
    print("  the re-ask named", reask["previous_response_id"][:12] + "...", "and sent", len(reask["input"]), "item")
    print("  tokens over both attempts:", response.usage.input_tokens, "in,", response.usage.output_tokens, "out")
    emulator.close()


if __name__ == "__main__":
    main()
