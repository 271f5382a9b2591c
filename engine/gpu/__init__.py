"""CuPy-only code, chosen by the GPU backend (engine/backend.py): nothing else imports it, so
the engine runs where CuPy is not installed."""
