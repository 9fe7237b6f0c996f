"""An ImageNet-style folder dataset that a stray folder or a bad image cannot fool."""
import os.path as osp

from mmpretrain.datasets import CustomDataset
from mmpretrain.datasets.custom import find_folders, get_samples

from mmresfam.registry import DATASETS


def _visible(path):
    return not any(part.startswith('.') for part in path.replace('\\', '/').split('/'))


@DATASETS.register_module()
class FolderDataset(CustomDataset):
    """mmpretrain's ``CustomDataset`` (one sub-folder per class) for train/val/test splits.

    mmpretrain's folder mode makes every sub-folder a class, numbered in the order of the
    folders of *this* split, so a hidden folder (``val/.ipynb_checkpoints``), a stray folder or
    a class missing from the val split shifts every label and the evaluation silently scores
    nonsense. Here:

    * hidden folders and files (a path part starting with ``.``) are ignored;
    * the classes and their numbering come from ``classes_from`` (the train split's folder)
      when given, and a class folder of this split that is not one of them is a
      ``ValueError`` naming it;
    * an image that cannot be loaded is an error naming its file.

    Args:
        classes_from (str, optional): Folder, relative to ``data_root``, whose class
            sub-folders define the classes (e.g. ``'train'`` for the val and test splits).
            Default: None (this split's own folders).
        **kwargs: Every argument of mmpretrain's ``CustomDataset``.
    """

    def __init__(self, *args, classes_from=None, **kwargs):
        self.classes_from = classes_from
        super().__init__(*args, **kwargs)

    def is_valid_file(self, filename: str) -> bool:
        """A file with an image extension whose path has no hidden part."""
        return _visible(filename) and super().is_valid_file(filename)

    def _class_folders(self, root):
        return [f for f in find_folders(root)[0] if _visible(f)]

    def _find_samples(self):
        if not self.with_label:
            return super()._find_samples()
        own = self._class_folders(self.img_prefix)
        if self.CLASSES is not None:
            classes, source = list(self.CLASSES), 'metainfo classes'
        elif self.classes_from is not None:
            source = osp.join(self.data_root, self.classes_from)
            classes = self._class_folders(source)
        else:
            classes, source = own, None
        unknown = sorted(set(own) - set(classes))
        if unknown:
            raise ValueError(f'{self.img_prefix}: class folder(s) {unknown} are not classes of '
                             f'{source} ({len(classes)} classes: {classes[:10]}); remove or '
                             'rename them')
        self._metainfo['classes'] = tuple(classes)
        self.folder_to_idx = {c: i for i, c in enumerate(classes)}
        samples, _ = get_samples(self.img_prefix, {c: self.folder_to_idx[c] for c in own},
                                 is_valid_file=self.is_valid_file)
        if not samples:
            raise ValueError(f'{self.img_prefix}: no image ({", ".join(self.extensions)}) in '
                             'its class folders')
        return samples

    def prepare_data(self, idx):
        """The pipeline's output for sample ``idx``; an error names the image file."""
        try:
            return super().prepare_data(idx)
        except Exception as e:
            path = self.get_data_info(idx).get('img_path')
            raise ValueError(f'cannot load image {path}: {type(e).__name__}: '
                             f'{" ".join(str(e).split())[:200]}') from e
