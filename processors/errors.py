"""The processors' root exception; leaf classes live beside the code that raises them."""


class ProcessorError(Exception):
    """Root of every error the processors raise."""
