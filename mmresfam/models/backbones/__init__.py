from .resnet import (BasicBlock, Bottleneck, ResidualForwardMixin, ResLayer, ResNet,
                     ResNetV1c, ResNetV1d)
from .resnest import *  # noqa: F401,F403
from .resnext import *  # noqa: F401,F403
from .seresnet import *  # noqa: F401,F403
from .resnetv2 import *  # noqa: F401,F403
from .residual_attention import *  # noqa: F401,F403
from .sknet import *  # noqa: F401,F403
from .scnet import *  # noqa: F401,F403
