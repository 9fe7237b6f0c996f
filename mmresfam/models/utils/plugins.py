"""MMDetection-style ``plugins`` for residual blocks.

A plugin entry is ``dict(cfg=dict(type=..., postfix=...), stages=(False, True, True, True),
position='after_conv3')`` exactly as in MMDetection 3.x's ``ResNet``: ``stages`` (optional) has
one bool per stage, ``cfg.postfix`` (optional, an int or a str) is appended to the module name.
The backbone picks the entries of each stage (:func:`plugins_for_stage`) and every block builds
them with :class:`PluginMixin`, passing ``in_channels`` of the feature map at that position, so
any module that takes ``in_channels`` (ours, or mmcv's ``ContextBlock``/``NonLocal2d``/
``GeneralizedAttention``) plugs in.

Module names: in a bottleneck, the plugin is named exactly as MMDetection names it, its
``_abbr_`` followed by ``postfix`` (``context_block1``, ``gen_attention_block``, ``cbam``), so
MMDetection's own checkpoints with plugins load with ``strict=True``. MMDetection refuses two
plugins of one block with the same name, and so do we (give them distinct ``postfix`` values).
MMDetection's basic block takes no plugins; ours are named ``<abbr><postfix>_<position>_<i>``
(``i`` counts the plugins at that position), the names our basic-block checkpoints always had.
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

    Raises ``ValueError`` for an entry without ``cfg``, a ``cfg.postfix`` that is not an int
    or a str, an unknown ``position`` or a ``stages`` tuple whose length differs from
    ``num_stages`` (each of which MMDetection refuses too).
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
        postfix = plugin['cfg'].get('postfix', '')
        if isinstance(postfix, bool) or not isinstance(postfix, (int, str)):
            raise ValueError(f'{owner}: plugins[{i}].cfg.postfix must be an int or a str, got '
                             f'{postfix!r}')
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
    Module names are MMDetection's ``<abbr><postfix>``; a block whose class sets
    ``plugin_names_by_position = True`` (the basic block, which MMDetection does not give
    plugins) uses ``<abbr><postfix>_<position>_<i>``.
    """

    plugin_names_by_position = False

    def build_plugins(self, plugins: Optional[Sequence[dict]],
                      channels: Dict[str, int]) -> None:
        owner = type(self).__name__
        self.plugin_names = {pos: [] for pos in channels}
        for plugin in plugins or []:
            position = plugin['position']
            check_choice('plugins.position', position, list(channels), owner)
            names = self.plugin_names[position]
            cfg = copy.deepcopy(plugin['cfg'])
            postfix = str(cfg.pop('postfix', ''))
            if self.plugin_names_by_position:
                postfix += f'_{position}_{len(names)}'
            name, layer = build_plugin_layer(cfg, in_channels=channels[position],
                                             postfix=postfix)
            if hasattr(self, name):
                raise ValueError(
                    f'{owner}: two plugins (or a plugin and a layer) of one block are named '
                    f'{name!r}; give the plugins distinct cfg.postfix values (MMDetection '
                    'refuses this too)')
            self.add_module(name, layer)
            names.append(name)

    def forward_plugins(self, x, position: str):
        for name in self.plugin_names.get(position, ()):
            x = getattr(self, name)(x)
        return x
