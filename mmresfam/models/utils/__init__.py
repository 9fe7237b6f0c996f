from .checks import (check_channels, check_choice, check_depth, check_divisible,
                     check_int_range)
from .model_checks import (backbone_feature_channels, check_neck_channels,
                           check_pretrained_keys)
from .ops import attention_sum, pointwise_conv
from .plugins import (PLUGIN_POSITIONS, PluginMixin, plugins_for_stage,
                      validate_plugins)

__all__ = [
    'check_channels', 'check_choice', 'check_depth', 'check_divisible', 'check_int_range',
    'attention_sum', 'pointwise_conv', 'PLUGIN_POSITIONS', 'PluginMixin',
    'plugins_for_stage', 'validate_plugins', 'backbone_feature_channels',
    'check_neck_channels', 'check_pretrained_keys'
]
