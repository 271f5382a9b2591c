"""ConvScope's engine: conv-pool-fc networks trained by mini-batch SGD on NumPy or CuPy.

Pure array code: nothing here imports Qt, so notebooks, the CLI and the window share it."""

from engine.backend import Backend, get_backend
from engine.data import Dataset, load_dataset
from engine.errors import (
    ConvScopeError,
    DataError,
    DeviceError,
    SettingError,
    SpecError,
    TrainingDiverged,
    WeightFileError,
)
from engine.network import Network
from engine.optim import SGD, Adam, Optimizer
from engine.spec import default_spec, infer, normalize, summary, validate
from engine.training import (
    BatchInfo,
    Callback,
    EpochInfo,
    History,
    Schedule,
    TrainingControl,
    fit,
)
from engine.weights import load, save

__all__ = [
    "SGD",
    "Adam",
    "Backend",
    "BatchInfo",
    "Callback",
    "ConvScopeError",
    "DataError",
    "Dataset",
    "DeviceError",
    "EpochInfo",
    "History",
    "Network",
    "Optimizer",
    "Schedule",
    "SettingError",
    "SpecError",
    "TrainingControl",
    "TrainingDiverged",
    "WeightFileError",
    "default_spec",
    "fit",
    "get_backend",
    "infer",
    "load",
    "load_dataset",
    "normalize",
    "save",
    "summary",
    "validate",
]
