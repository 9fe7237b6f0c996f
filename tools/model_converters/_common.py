"""The ``SRC DST [--force]`` command line shared by the ``*_to_mmresfam.py`` converters; the
conversion rules themselves live in :mod:`mmresfam.convert`.

A converter imports it as ``model_converters._common`` (with ``tools/`` on ``sys.path``), so
the converter works as a script, as ``model_converters.<name>`` and when loaded by file path.
Every failure (unreadable input, a state_dict the rules refuse, an output that would overwrite
the input or an existing file) is one ``error: ...`` line on stderr and exit status 1.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Dict

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # repo root
from mmresfam.convert.common import load_state_dict  # noqa: E402

StateDict = Dict[str, torch.Tensor]
SRC_HELP = 'timm checkpoint (state_dict or dict with "state_dict")'


def build_parser(description: str, src_help: str = SRC_HELP) -> argparse.ArgumentParser:
    """The converters' command line: ``SRC DST [--force]`` (add options to the result).

    Args:
        description (str): What the converter does.
        src_help (str): Help text of the ``src`` argument.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='output path (an existing file is kept unless --force)')
    parser.add_argument('--force', action='store_true',
                        help='overwrite an existing DST (never SRC itself)')
    return parser


def save(state_dict: StateDict, dst: str, source: str) -> None:
    """Write ``dict(state_dict=..., meta=dict(source=...))`` to ``dst`` and say so.

    The file is written next to ``dst`` first and renamed, so an interrupted run never leaves
    a truncated ``dst``.
    """
    tmp = f'{dst}.tmp{os.getpid()}'
    try:
        torch.save(dict(state_dict=state_dict, meta=dict(source=source)), tmp)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'saved to {dst}')


def run(args: argparse.Namespace, convert: Callable[[StateDict], StateDict],
        report: Callable[[StateDict, StateDict, argparse.Namespace], None],
        source: str = 'timm') -> int:
    """Load ``args.src``, convert it, let ``report(src_sd, converted, args)`` print what was
    mapped, and save to ``args.dst`` with ``meta.source = '<source>:<src>'``.

    The input is read and converted before the output path is checked against existing files
    (so a bad input is reported as such); an output equal to the input is refused first.

    Returns:
        int: 0 on success; 1 after printing ``error: ...`` to stderr.
    """
    try:
        if osp.abspath(args.src) == osp.abspath(args.dst) or (
                osp.exists(args.src) and osp.exists(args.dst)
                and osp.samefile(args.src, args.dst)):
            raise ValueError(f'dst {args.dst} is the input checkpoint: refusing to replace it '
                             '(choose another output path)')
        if not osp.isfile(args.src):
            raise ValueError(f'src {args.src} is not a file')
        state_dict = load_state_dict(args.src)
        converted = convert(state_dict)
        report(state_dict, converted, args)
        if osp.isdir(args.dst):
            raise ValueError(f'dst {args.dst} is a folder: give a file path')
        if osp.exists(args.dst) and not args.force:
            raise ValueError(f'dst {args.dst} exists: pass --force to overwrite it')
        save(converted, args.dst, f'{source}:{args.src}')
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


def main(convert: Callable[[StateDict], StateDict],
         report: Callable[[StateDict, StateDict, argparse.Namespace], None],
         description: str, src_help: str = SRC_HELP, source: str = 'timm') -> int:
    """``SRC DST [--force]`` command line of a converter without extra options; returns the
    exit status."""
    return run(build_parser(description, src_help).parse_args(), convert, report, source)
