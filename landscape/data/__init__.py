"""Data sets: the ``DATASETS`` registry and the in-memory ``ImageData`` they return."""

from landscape.data import celeba_hq, digits, folders, torchvision_sets  # noqa: F401  (they register)
from landscape.data.base import DATASETS, ImageData, default_root, load, to_unit_range

__all__ = ["DATASETS", "ImageData", "default_root", "load", "to_unit_range"]
