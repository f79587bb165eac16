"""Extract a typed object from text, against the emulator (swap in your Azure endpoint and key).

Run: python cookbook/extract_user.py
"""

from openai import AzureOpenAI
from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import Emulator


class Address(BaseModel):
    street: str
    city: str
    country: str


class UserWithAddress(BaseModel):
    """A user and the addresses they mention."""

    name: str
    age: int = Field(ge=0, le=130)
    addresses: list[Address]


def main() -> None:
    emulator = Emulator(backend="schema")  # deterministic answers from the schema; no Azure needed
    client = instructor_az.from_openai(
        AzureOpenAI(
            api_key="emulator-key",  # os.environ["AZURE_OPENAI_API_KEY"] on Azure
            api_version="2024-10-21",
            azure_endpoint="https://emulator.openai.azure.com",  # os.environ["AZURE_OPENAI_ENDPOINT"]
            http_client=emulator.http_client(),  # drop this line on Azure
        )
    )
    user = client.chat.completions.create(
        model="gpt-4o",
        response_model=UserWithAddress,
        messages=[
            {"role": "user", "content": "Our colleague John is 30 years old; he lives in Boston, USA."}
        ],
    )
    print(user.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
