"""Analysis helpers behind ``tools/analysis``: reference models, benchmark, model zoo."""
from .references import (REFERENCES, FeatureModel, build_backbone, build_candidate,
                         copy_weights, registered_backbones)

__all__ = ['REFERENCES', 'FeatureModel', 'build_backbone', 'build_candidate', 'copy_weights',
           'registered_backbones']
