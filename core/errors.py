"""The errors a user can cause, each carrying one line that says what to do.
Torch-free, so the CLI can report bad input without importing torch."""


class LabError(Exception):
    """Base: printed as one line by the CLI (exit code 2)."""


class ConfigError(LabError, ValueError):
    """A bad variant name, hyper-parameter or option."""


class DataError(LabError, RuntimeError):
    """MNIST is missing or corrupt."""


class RunError(LabError, LookupError):
    """A missing or unreadable run."""


class CheckpointError(LabError, RuntimeError):
    """A checkpoint that is missing, corrupt or of the wrong shape."""


class TrainingFailed(RuntimeError):
    """A run stopped as `failed` (NaN/inf); the message says why and what was kept."""
