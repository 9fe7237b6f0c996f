from .folder import FolderDataset

__all__ = ['FolderDataset']
