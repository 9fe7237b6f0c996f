from .checkpoint import AtomicLocalBackend, SafeCheckpointHook  # noqa: F401
from .hooks import *  # noqa: F401,F403
