"""structure_net_data: datasets, experiment search and training histories
for PyTorch research on neural-network architectures, on a Go core.

>>> from structure_net_data import create_dataset            # doctest: +SKIP
>>> ds = create_dataset('cifar10', batch_size=128)           # doctest: +SKIP
>>> images, labels = next(iter(ds['train_loader']))          # doctest: +SKIP
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .config import (
    DatasetConfig,
    create_custom_dataset_config,
    get_dataset_config,
    list_available_datasets,
    register_dataset,
    unregister_dataset,
)
from .datasets import Dataset, DatasetLoader, register_loader
from .errors import (
    ChecksumError,
    CorruptDataError,
    DatasetNotFoundError,
    ForkError,
    StructureNetDataError,
    UnavailableError,
)
from .factory import DATASET_CACHE, clear_dataset_cache, create_dataset, get_dataset
from .images import ImageFolderDataset, prepare_dataset, register_image_folder, set_image_options
from .loader import BatchLoader
from .metadata import DatasetMetadata, track_dataset_usage
from .search import (
    ChromaConfig,
    ExperimentSearcher,
    get_chroma_client,
    reset_chroma_client,
    search_by_architecture,
    search_by_hypothesis,
    search_by_performance,
    search_similar_experiments,
)

__all__ = [
    "BatchLoader",
    "ChromaConfig",
    "ExperimentSearcher",
    "ImageFolderDataset",
    "prepare_dataset",
    "register_image_folder",
    "set_image_options",
    "get_chroma_client",
    "reset_chroma_client",
    "search_by_architecture",
    "search_by_hypothesis",
    "search_by_performance",
    "search_similar_experiments",
    "ChecksumError",
    "CorruptDataError",
    "DATASET_CACHE",
    "Dataset",
    "DatasetConfig",
    "DatasetLoader",
    "DatasetMetadata",
    "DatasetNotFoundError",
    "ForkError",
    "StructureNetDataError",
    "UnavailableError",
    "clear_dataset_cache",
    "create_custom_dataset_config",
    "create_dataset",
    "get_dataset",
    "get_dataset_config",
    "list_available_datasets",
    "register_dataset",
    "register_loader",
    "track_dataset_usage",
    "unregister_dataset",
]


def __getattr__(name: str):
    # MNIST_CONFIG and friends are read from the core's registry on demand.
    if name.endswith("_CONFIG"):
        from . import config

        return getattr(config, name)
    raise AttributeError(name)
