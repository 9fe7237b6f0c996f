from .attention_pooling import *  # noqa: F401,F403
