"""Build script for mmresfam (PEP 517 backend: setuptools, see pyproject.toml).

Like the OpenMMLab packages, a wheel carries the repository's ``configs/``, ``tools/`` and
``model-index.yml`` inside the package as ``mmresfam/.mim/...``, which is where ``mim``
(``mim search``, ``mim train mmresfam CONFIG``) and the model index look for them after a
plain ``pip install``.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
# What mim needs next to the installed package (mmresfam/.mim/<name>).
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def get_version():
    scope = {}
    with open(osp.join(ROOT, 'mmresfam', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def add_mim_extension():
    """Fill ``mmresfam/.mim`` with :data:`MIM_FILES`.

    Editable installs (``setup.py develop`` or PEP 660's ``editable_wheel``) get relative
    symlinks, so the checkout's files are used as they change; ``sdist`` and ``bdist_wheel``
    get copies, which ``MANIFEST.in`` and ``include_package_data`` put into the archive (the
    caller removes them afterwards). Other commands (``egg_info``, ``dist_info`` ...) leave the
    folder alone. A name missing from the tree (e.g. inside an sdist, which has only the
    copies) is skipped. Returns the mode, or None.
    """
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel'} & set(sys.argv):
        mode = 'copy'
    else:
        return None
    mim_path = osp.join(ROOT, 'mmresfam', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(ROOT, name)
        if not osp.exists(src):
            continue
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)
    return mode


def main():
    mode = add_mim_extension()
    try:
        run_setup()
    finally:
        if mode == 'copy':  # the copies belong in the archive, not in the checkout
            shutil.rmtree(osp.join(ROOT, 'mmresfam', '.mim'), ignore_errors=True)


def run_setup():
    setup(
        name='mmresfam',
        version=get_version(),
        description='The residual network family for MMPreTrain, MMDetection and '
        'MMSegmentation',
        long_description=open(osp.join(ROOT, 'README.md'), encoding='utf-8').read(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests', 'tests.*')),
        include_package_data=True,
        python_requires='>=3.8',
        install_requires=[
            'mmengine>=0.10.0,<1.0', 'mmcv>=2.0.0,<2.2.0', 'mmpretrain>=1.0.0',
        ],
        extras_require={
            'det': ['mmdet>=3.0.0'],
            'seg': ['mmsegmentation>=1.0.0', 'ftfy', 'regex'],
        },
        license='Apache License 2.0',
        zip_safe=False,
    )


if __name__ == '__main__':
    main()
