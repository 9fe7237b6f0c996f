"""MMDetection-style ``plugins`` for residual blocks.

A plugin entry is ``dict(cfg=dict(type=...), stages=(False, True, True, True),
position='after_conv3')`` exactly as in MMDetection's ``ResNet``. The backbone picks the entries
of each stage (:func:`plugins_for_stage`) and every block builds them with
:class:`PluginMixin`, passing ``in_channels`` of the feature map at that position, so any module
that takes ``in_channels`` (ours, or mmcv's ``ContextBlock``/``NonLocal2d``/...) plugs in.
"""
import copy
from typing import Dict, List, Optional, Sequence

from mmcv.cnn import build_plugin_layer

from .checks import check_choice

PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


def validate_plugins(plugins: Optional[Sequence[dict]], num_stages: int,
                     positions: Sequence[str] = PLUGIN_POSITIONS,
                     owner: str = 'ResNet') -> List[dict]:
    """Check a ``plugins`` list and return a deep copy of it.

    Raises ``ValueError`` for an entry without ``cfg``, an unknown ``position`` or a
    ``stages`` tuple whose length differs from ``num_stages``.
    """
    if plugins is None:
        return []
    if isinstance(plugins, dict) or not isinstance(plugins, (list, tuple)):
        raise ValueError(f'{owner}: plugins must be a list of dicts, got {type(plugins)}')
    checked = []
    for i, plugin in enumerate(plugins):
        plugin = copy.deepcopy(dict(plugin))
        unknown = set(plugin) - {'cfg', 'position', 'stages'}
        if unknown:
            raise ValueError(f'{owner}: plugins[{i}] has unknown keys {sorted(unknown)}; '
                             "allowed keys are ['cfg', 'position', 'stages']")
        if not isinstance(plugin.get('cfg'), dict) or 'type' not in plugin['cfg']:
            raise ValueError(f"{owner}: plugins[{i}]['cfg'] must be a dict with a 'type'")
        check_choice(f'plugins[{i}].position', plugin.get('position'), positions, owner)
        stages = plugin.get('stages')
        if stages is not None and len(stages) != num_stages:
            raise ValueError(
                f'{owner}: plugins[{i}].stages has {len(stages)} entries but the backbone '
                f'has num_stages={num_stages}; give one bool per stage')
        checked.append(plugin)
    return checked


def plugins_for_stage(plugins: Sequence[dict], stage_idx: int) -> List[dict]:
    """The entries that apply to stage ``stage_idx`` (``stages`` dropped)."""
    out = []
    for plugin in plugins:
        stages = plugin.get('stages')
        if stages is None or stages[stage_idx]:
            out.append({k: v for k, v in plugin.items() if k != 'stages'})
    return out


class PluginMixin:
    """Builds and runs plugins at named positions of a residual block.

    A block calls :meth:`build_plugins` once with the channel count at each position it
    supports, then :meth:`forward_plugins` at each position inside its residual branch.
    Plugin modules are registered under ``<abbr><postfix>`` names, as in MMDetection.
    """

    def build_plugins(self, plugins: Optional[Sequence[dict]],
                      channels: Dict[str, int]) -> None:
        self.plugin_names = {pos: [] for pos in channels}
        for plugin in plugins or []:
            position = plugin['position']
            check_choice('plugins.position', position, list(channels), type(self).__name__)
            names = self.plugin_names[position]
            name, layer = build_plugin_layer(
                copy.deepcopy(plugin['cfg']), in_channels=channels[position],
                postfix=f'_{position}_{len(names)}')
            if hasattr(self, name):
                raise ValueError(f'duplicate plugin name {name}')
            self.add_module(name, layer)
            names.append(name)

    def forward_plugins(self, x, position: str):
        for name in self.plugin_names.get(position, ()):
            x = getattr(self, name)(x)
        return x
