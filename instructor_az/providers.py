"""`Provider`: instructor's provider identifiers. instructor-az serves `OPENAI` and `AZURE_OPENAI`."""

from __future__ import annotations

from enum import Enum


class Provider(Enum):
    """The providers instructor names. Only `OPENAI` and `AZURE_OPENAI` are served here; the others are
    listed so that code (and tests) naming them keep importing, and get a clear error when used."""

    OPENAI = "openai"
    AZURE_OPENAI = "azure_openai"
    VERTEXAI = "vertexai"
    ANTHROPIC = "anthropic"
    ANYSCALE = "anyscale"
    TOGETHER = "together"
    GROQ = "groq"
    MISTRAL = "mistral"
    COHERE = "cohere"
    GEMINI = "gemini"
    GENAI = "genai"
    DATABRICKS = "databricks"
    CEREBRAS = "cerebras"
    DEEPSEEK = "deepseek"
    FIREWORKS = "fireworks"
    WRITER = "writer"
    XAI = "xai"
    OLLAMA = "ollama"
    LITELLM = "litellm"
    GOOGLE = "google"
    GENERATIVE_AI = "generative-ai"
    UNKNOWN = "unknown"
    BEDROCK = "bedrock"
    PERPLEXITY = "perplexity"
    OPENROUTER = "openrouter"

    @property
    def served(self) -> bool:
        """Whether instructor-az serves this provider."""
        return self in (Provider.OPENAI, Provider.AZURE_OPENAI)


SERVED_PROVIDERS = (Provider.AZURE_OPENAI, Provider.OPENAI)

__all__ = ["SERVED_PROVIDERS", "Provider"]
