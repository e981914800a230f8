"""The Efficiency Hub: citizens, efficiency events, live interventions, an optimizer and an API,
written against the Supabase client API only (Localbase locally, Supabase in production)."""

__version__ = "0.1.0"
