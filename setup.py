from setuptools import find_packages, setup


def get_version():
    scope = {}
    with open('mmresfam/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmresfam',
    version=get_version(),
    description='The residual network family for MMPreTrain, MMDetection and MMSegmentation',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.8',
    install_requires=[
        'mmengine>=0.10.0,<1.0', 'mmcv>=2.0.0,<2.2.0', 'mmpretrain>=1.0.0',
    ],
    extras_require={
        'det': ['mmdet>=3.0.0'],
        'seg': ['mmsegmentation>=1.0.0', 'ftfy', 'regex'],
    },
    license='Apache License 2.0',
)
