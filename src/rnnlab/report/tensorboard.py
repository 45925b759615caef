"""Q2's saved training as TensorBoard event files: per-epoch weight histograms and losses.

Reads only the saved checkpoints (every weight file verified against its recorded SHA-256 and
checked finite by :func:`rnnlab.train.checkpoints.load_weights`) and each model's history;
nothing is trained again. Needs the optional ``tensorboard`` package
(``pip install 'rnnlab[tensorboard]'``).
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.cells import CELLS
from rnnlab.errors import DataError, RnnlabError

HISTORY_SCALARS = ("train_loss", "test_loss", "train_mae", "test_mae", "train_accuracy",
                   "test_accuracy", "grad_norm_mean", "grad_norm_max", "lr")


def _writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RnnlabError("expected the tensorboard package for `rnnlab export tensorboard`, found none; "
                          "pip install 'rnnlab[tensorboard]'") from None
    return SummaryWriter


def model_folders(section_dir: str | Path) -> list[Path]:
    """``checkpoints/<task>/<MODEL>`` folders of a Q2 results folder, sorted.

    Raises
    ------
    DataError
        When the folder holds no Q2 checkpoints.
    """
    root = Path(section_dir) / "checkpoints"
    folders = sorted(p for p in root.glob("*/*") if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise DataError(f"expected Q2 checkpoints in {root} (checkpoints/<task>/<MODEL>/), found none; "
                        "run `rnnlab run q2` first")
    return folders


def _gate_blocks(name: str, tensor, cell: str):
    """(tag suffix, values) per gate block of a stacked (G*H, ...) weight, else the whole."""
    gates = CELLS[cell].gates if cell in CELLS else ()
    rows = tensor.shape[0] if tensor.ndim else 0
    if name.startswith(("weight_ih", "weight_hh", "bias_ih", "bias_hh")) and gates and rows % len(gates) == 0:
        size = rows // len(gates)
        return [(f"{name}/{g}", tensor[i * size:(i + 1) * size]) for i, g in enumerate(gates)]
    return [(name, tensor)]


def export_model(folder: Path, logdir: Path) -> int:
    """Write one model's events under ``logdir/<task>/<MODEL>``; returns the epochs written."""
    from rnnlab.train import checkpoints as ckpt

    history = ckpt.read_history(folder) or {"settings": {}, "records": []}
    cell = str(history["settings"].get("model", {}).get("cell", "")).lower()
    writer = _writer_class()(log_dir=str(logdir / folder.parent.name / folder.name))
    epochs = ckpt.saved_epochs(folder)
    try:
        for epoch in epochs:
            for name, tensor in ckpt.load_weights(ckpt.weights_path(folder, epoch)).items():
                for tag, values in _gate_blocks(name, tensor.detach().float(), cell):
                    writer.add_histogram(f"weights/{tag}", values.numpy(), global_step=epoch)
        for record in history["records"]:
            for key in HISTORY_SCALARS:
                value = record.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    writer.add_scalar(f"training/{key}", value, global_step=record["epoch"])
    finally:
        writer.close()
    return len(epochs)


def export_tensorboard(section_dir: str | Path, logdir: str | Path | None = None) -> tuple[Path, int, int]:
    """Export every model of a Q2 results folder; returns (logdir, models, epochs written)."""
    folders = model_folders(section_dir)
    logdir = Path(logdir) if logdir is not None else Path(section_dir) / "tensorboard"
    _writer_class()  # refuse before writing anything when tensorboard is missing
    epochs = sum(export_model(folder, logdir) for folder in folders)
    return logdir, len(folders), epochs
