"""Code shared by the scripts in ``tools/analysis`` (and ``tools/deployment``,
``tools/visualization``): reference models, benchmark, stage timing, model zoo, ONNX export.

Repository tooling, not part of the installed ``mmresfam`` package: it runs ``tools/`` scripts
by path and reads ``configs/``. Import it as ``analysis._lib.<module>`` with ``tools/`` on
``sys.path``.
"""
from .references import (REFERENCES, FeatureModel, build_backbone, build_candidate,
                         copy_weights, registered_backbones)

__all__ = ['REFERENCES', 'FeatureModel', 'build_backbone', 'build_candidate', 'copy_weights',
           'registered_backbones']
