from .curve_hook import TrainingCurveHook

__all__ = ['TrainingCurveHook']
