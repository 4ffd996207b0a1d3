"""The one outgoing HTTP client (fetch.py), safe against server-side request forgery (addresses.py)."""
