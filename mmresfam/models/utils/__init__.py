from .checks import (check_channels, check_choice, check_depth, check_divisible,
                     check_int_range)
from .ops import global_avg_pool, weighted_sum
from .plugins import (PLUGIN_POSITIONS, PluginMixin, plugins_for_stage,
                      validate_plugins)

__all__ = [
    'check_channels', 'check_choice', 'check_depth', 'check_divisible', 'check_int_range',
    'global_avg_pool', 'weighted_sum', 'PLUGIN_POSITIONS', 'PluginMixin', 'plugins_for_stage',
    'validate_plugins'
]
