"""The one error type the generator raises for a fixture it cannot make as specified."""


class GenerationError(Exception):
    """Raised with a message that names the fixture and what went wrong."""
