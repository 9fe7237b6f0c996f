"""Argument checks with messages that name the argument and what is allowed.

Every public module validates its arguments with these helpers so that a wrong config value
fails at build time with one clear line instead of a shape error deep inside ``forward``.
"""
from typing import Any, Iterable


def check_choice(name: str, value: Any, allowed: Iterable, owner: str = '') -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        where = f'{owner}: ' if owner else ''
        raise ValueError(f'{where}{name}={value!r} is not supported; '
                         f'allowed values are {allowed}')


def check_depth(depth: Any, arch_settings: dict, owner: str) -> None:
    """Raise ``KeyError`` for a depth that is not a key of ``arch_settings``."""
    if depth not in arch_settings:
        raise KeyError(f'{owner}: invalid depth={depth!r}; allowed depths are '
                       f'{sorted(arch_settings)}')


def check_int_range(name: str, value: Any, low: int = 1, high: int = None,
                    owner: str = '') -> None:
    """Raise ``ValueError`` unless ``value`` is an int in ``[low, high]``."""
    where = f'{owner}: ' if owner else ''
    bound = f'>= {low}' if high is None else f'in [{low}, {high}]'
    if (not isinstance(value, int) or isinstance(value, bool) or value < low
            or (high is not None and value > high)):
        raise ValueError(f'{where}{name} must be an integer {bound}, got {value!r}')


def check_float_range(name: str, value: Any, low: float, high: float,
                      owner: str = '') -> None:
    """Raise ``ValueError`` unless ``value`` is a real number in ``[low, high]``."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not low <= value <= high):
        where = f'{owner}: ' if owner else ''
        raise ValueError(f'{where}{name} must be a number in [{low}, {high}], got {value!r}')


def check_divisible(name: str, value: int, divisor: int, divisor_name: str,
                    owner: str = '') -> None:
    """Raise ``ValueError`` unless ``divisor`` divides ``value``."""
    if divisor <= 0 or value % divisor != 0:
        where = f'{owner}: ' if owner else ''
        raise ValueError(f'{where}{name}={value} must be divisible by '
                         f'{divisor_name}={divisor}')


def check_channels(x_channels: int, expected: int, owner: str,
                   name: str = 'in_channels') -> None:
    """Raise ``ValueError`` when an input tensor has the wrong number of channels."""
    if x_channels != expected:
        raise ValueError(f'{owner}: input has {x_channels} channels but the module was '
                         f'built with {name}={expected}')
