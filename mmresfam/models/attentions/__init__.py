"""Attention modules: registered as ``mmresfam.<Name>``, usable as ResNet ``plugins``.

The shared contract
-------------------
* The first argument is ``in_channels``, so every module is an mmcv/MMDetection plugin
  (``build_plugin_layer(cfg, in_channels=C)``; the abbreviation ``_abbr_`` names the layer)
  and ``AttentionPoolingNeck`` can fill it in. Arguments are checked at build time
  (``ValueError`` naming the argument and the allowed values).
* The two kinds (as timm's ``create_attn`` separates them):

  - **shape-keeping gates**, added to a block next to its convs: ``SE``, ``CBAM``, ``SGE``,
    ``scSE`` re-weight their input (``out = x * gate``, channel and/or spatial gates) and
    ``DoubleAttention`` adds to it (``out = x + Z``). Output shape = input shape.
  - **conv replacements**, which take the place of a block's 3x3 conv-norm-act: ``SK``,
    ``SplitAttentionConv2d`` (and its reference form ``RadixMajorSplitAttentionConv2d``),
    ``SCConv``. They have their own output width and ``stride`` and include their norms;
    with the defaults (output width = ``in_channels``, stride 1) they keep the shape too.
* The reduction ratio is called ``reduction`` everywhere (an integer ``r``; the hidden width
  comes from ``C / r``). A module that stands in for a reference module also takes that
  module's name, documented in its Args, and giving both is an error: ``SE`` takes ``ratio``
  (MMPreTrain's ``SELayer``), ``SplitAttentionConv2d`` takes ``reduction_factor`` (MMPreTrain's
  and MMDetection's ``SplitAttentionConv2d``, the official ``SplAtConv2d``). timm's
  ``rd_ratio`` is not accepted: it is the reciprocal (a fraction, ``1/16``), paired with a
  different rounding (``rd_divisor``), and timm modules are never built from these configs
  (timm weights come in through the converters).
* Attention maps: the modules with a map to show (``CBAM``, ``SGE``, ``scSE``,
  ``DoubleAttention``, ``SCConv``) follow one protocol, :class:`AttentionMapMixin`
  (``record_attention`` / ``last_attention_map``).
* Batch size 1 in training: a norm of an attention branch that normalises pooled maps
  (split attention's ``bn1``, SK's ``attn_reduce``, SCConv's ``k2``, which pools to ``1 x 1``
  maps smaller than twice its rate) goes through :func:`attention_norm`: with one value per
  channel, a BatchNorm uses its running statistics instead of raising "Expected more than 1
  value per channel when training". Norms on full feature maps behave like the backbone's own.
* Mixed precision (autocast): a module's output has the dtype of the features it works on, so
  no fp32 map leaks into the next layer. A gate returns its input's dtype (its gate is rounded
  to it; SGE normalises in the parameters' precision first, as autocast runs ``group_norm``);
  a conv replacement returns its convs' dtype (the autocast dtype). Weights that come out of an
  fp32 op (softmax is one under CUDA autocast) are rounded to the features' dtype before they
  are applied (:func:`~mmresfam.models.utils.attention_sum`).
"""
from .base import *  # noqa: F401,F403
from .se import *  # noqa: F401,F403
from .cbam import *  # noqa: F401,F403
from .sk import *  # noqa: F401,F403
from .split_attention import *  # noqa: F401,F403
from .double_attention import *  # noqa: F401,F403
from .sge import *  # noqa: F401,F403
from .scse import *  # noqa: F401,F403
from .scconv import *  # noqa: F401,F403
