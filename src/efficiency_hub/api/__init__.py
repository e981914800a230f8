"""The hub's FastAPI service: every user request runs through a supabase client carrying the
caller's JWT, so row-level security decides what they see."""

from efficiency_hub.api.app import create_app

__all__ = ["create_app"]
