"""Checkpoints in safe formats: tensors in safetensors, everything else in JSON. Never pickle.

One training run (one model on one dataset) owns a folder::

    epoch_000.safetensors        model weights at initialisation (epoch 0)
    epoch_001.safetensors        ... after every epoch (all kept: they are the weight history)
    epoch_NNN.state.safetensors  optimiser tensors and RNG states after the last epoch
    epoch_NNN.state.json         optimiser scalars (step counts, learning rate, betas ...)
    *.safetensors.sha256         SHA-256 of each tensor file, as ``sha256sum`` writes it
    history.json                 settings and per-epoch records up to the last complete epoch

Every file is written to a temporary name and renamed into place (``os.replace``), and
``history.json`` is written last: the epoch it names is complete (its weights and state are on
disk), whatever happened afterwards. Resuming restarts from that epoch. Only the newest state
files are kept (older ones are deleted once a newer epoch is complete).

Every tensor file is verified before it is read: its SHA-256, recorded at write time in
``<file>.sha256`` (written after the tensor file, so ``sha256sum -c`` checks it too), must
match the bytes on disk, and the floating-point tensors must be finite. A changed or damaged
file is refused with one line naming it (:class:`~rnnlab.errors.DataError`), never used.
Loading also refuses pickle-based files (``torch.save`` output, ``.pt``/``.pth``/``.pkl``)
instead of unpickling them: a pickle can run arbitrary code when loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from rnnlab.errors import ConfigError, DataError
from rnnlab.results import atomic_write_bytes, to_jsonable, write_json
from rnnlab.results import read_json as _read_json

WEIGHTS_FORMAT = "rnnlab-weights-v1"
STATE_FORMAT = "rnnlab-train-state-v1"
HISTORY_FORMAT = "rnnlab-history-v1"
HISTORY_FILE = "history.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
DIGEST_SUFFIX = ".sha256"
_EPOCH_FILE = re.compile(r"^epoch_(\d{3,})(\.state)?\.(safetensors|json|safetensors\.sha256)$")
_DIGEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)\n?$")


def weights_path(folder: str | Path, epoch: int) -> Path:
    """``<folder>/epoch_NNN.safetensors``."""
    return Path(folder) / f"epoch_{epoch:03d}.safetensors"


def state_paths(folder: str | Path, epoch: int) -> tuple[Path, Path]:
    """The optimiser/RNG state files of an epoch: (tensors .safetensors, scalars .json)."""
    folder = Path(folder)
    return folder / f"epoch_{epoch:03d}.state.safetensors", folder / f"epoch_{epoch:03d}.state.json"


# --------------------------------------------------------------------------------------------
# Atomic writes and safe reads
# --------------------------------------------------------------------------------------------


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write strict JSON atomically (:func:`rnnlab.results.write_json`)."""
    return write_json(path, data)


def read_json(path: str | Path) -> Any:
    """Read a JSON file of a checkpoint folder (non-finite floats restored)."""
    return _read_json(path, "a checkpoint's JSON")


def refuse_pickle(path: str | Path) -> None:
    """Raise unless ``path`` looks like a safetensors file (never unpickle anything).

    Raises
    ------
    DataError
        For a missing file, a pickle-style suffix, pickle or zip (``torch.save``) content, or
        anything without a safetensors header.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"expected a safetensors checkpoint at {path}, found none")
    with open(path, "rb") as handle:
        head = handle.read(9)
    is_pickle = head[:1] == b"\x80" or head[:2] == b"PK" or path.suffix.lower() in PICKLE_SUFFIXES
    if is_pickle:
        raise DataError(
            f"expected a safetensors checkpoint at {path}, found a pickle/torch.save file; "
            "rnnlab never unpickles checkpoints (convert it with safetensors.torch.save_file)"
        )
    if len(head) < 9 or head[8:9] != b"{":
        raise DataError(f"expected a safetensors header in {path}, found {head[:9]!r}")


def digest_path(path: str | Path) -> Path:
    """``<path>.sha256``: where the SHA-256 of a tensor file is recorded."""
    path = Path(path)
    return path.with_name(path.name + DIGEST_SUFFIX)


def write_digest(path: str | Path, data: bytes) -> Path:
    """Record the SHA-256 of ``data`` (the bytes of ``path``) in ``<path>.sha256``, atomically.

    The line is what ``sha256sum`` writes (``<hex>  <file name>``), so ``sha256sum -c`` checks
    the file too.
    """
    path = Path(path)
    line = f"{hashlib.sha256(data).hexdigest()}  {path.name}\n"
    return atomic_write_bytes(digest_path(path), line.encode("ascii"))


def recorded_digest(path: str | Path) -> str:
    """The SHA-256 recorded for ``path`` at write time.

    Raises
    ------
    DataError
        When ``<path>.sha256`` is missing, malformed or names another file.
    """
    path = Path(path)
    record = digest_path(path)
    if not record.is_file():
        raise DataError(
            f"expected the SHA-256 of {path} recorded at write time in {record.name}, found no "
            "such file: the checkpoint cannot be verified (rerun without --resume)"
        )
    text = record.read_bytes().decode("ascii", errors="replace")
    match = _DIGEST_LINE.match(text)
    if match is None or match.group(2) != path.name:
        raise DataError(
            f"expected '<sha256>  {path.name}' in {record}, found {text[:90]!r}: the record "
            "was changed or damaged"
        )
    return match.group(1)


def verified_bytes(path: str | Path) -> bytes:
    """The bytes of the tensor file ``path`` after checking them against their recorded SHA-256.

    Raises
    ------
    DataError
        When the file or its record is missing, or the bytes no longer match the record.
    """
    path = Path(path)
    refuse_pickle(path)
    expected = recorded_digest(path)
    raw = path.read_bytes()
    found = hashlib.sha256(raw).hexdigest()
    if found != expected:
        raise DataError(
            f"expected SHA-256 {expected} recorded at write time for {path}, found {found}: "
            "the file was changed or damaged"
        )
    return raw


def check_finite(path: str | Path, tensors: dict[str, torch.Tensor]) -> None:
    """Refuse NaN or infinite values in the floating-point tensors read from ``path``."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise DataError(
                f"expected finite values in {path}, found {bad} NaN or infinite value(s) in "
                f"{name!r}: the checkpoint is unusable"
            )


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> Path:
    """Save tensors (moved to the CPU, made contiguous) to a safetensors file atomically, then
    their SHA-256 in ``<path>.sha256`` (:func:`write_digest`)."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = st_save(cpu, metadata={k: str(v) for k, v in metadata.items()})
    atomic_write_bytes(path, data)
    write_digest(path, data)
    return Path(path)


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (on the CPU) and metadata of a safetensors file, verified before use.

    The bytes must match the SHA-256 recorded at write time and every floating-point tensor
    must be finite; pickles are refused.

    Raises
    ------
    DataError
        One line naming the file and what is wrong with it.
    """
    path = Path(path)
    raw = verified_bytes(path)
    try:
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        metadata = json.loads(raw[8 : 8 + header_len]).get("__metadata__", {}) or {}
    except (SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise DataError(
            f"expected a valid safetensors file at {path}, found a damaged one ({exc})"
        ) from None
    check_finite(path, tensors)
    return tensors, metadata


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------


def save_weights(folder: str | Path, epoch: int, state_dict: dict[str, torch.Tensor]) -> Path:
    """Model weights of ``epoch`` as ``epoch_NNN.safetensors``."""
    meta = {"format": WEIGHTS_FORMAT, "epoch": epoch}
    return save_tensors(weights_path(folder, epoch), dict(state_dict), meta)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Model weights from a safetensors file, verified by :func:`load_tensors` (recorded
    SHA-256, finite values; pickles refused)."""
    tensors, meta = load_tensors(path)
    if meta.get("format", WEIGHTS_FORMAT) != WEIGHTS_FORMAT:
        raise DataError(
            f"expected {WEIGHTS_FORMAT} weights in {path}, found format {meta.get('format')!r}"
        )
    return tensors


def saved_epochs(folder: str | Path) -> list[int]:
    """Epochs with a weights file in ``folder``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    epochs = []
    for p in folder.iterdir():
        m = _EPOCH_FILE.match(p.name)
        if m and m.group(2) is None and m.group(3) == "safetensors":
            epochs.append(int(m.group(1)))
    return sorted(epochs)


def remove_temporary(folder: str | Path) -> None:
    """Delete temporary files left by a write that was killed before its rename."""
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(".*.tmp-*"):
            p.unlink()


def clear_run(folder: str | Path) -> None:
    """Delete this module's files (epoch files, history) from ``folder`` for a fresh start."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    remove_temporary(folder)
    for p in folder.iterdir():
        if _EPOCH_FILE.match(p.name) or p.name == HISTORY_FILE:
            p.unlink()


# --------------------------------------------------------------------------------------------
# Optimiser and RNG state
# --------------------------------------------------------------------------------------------


def split_optimizer_state(
    state_dict: dict[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimiser ``state_dict()`` as (tensors for safetensors, JSON scalars).

    Tensors of ``state[i][key]`` become ``optim.<i>.<key>``; other per-parameter values and
    the ``param_groups`` (learning rate, betas ...) go to the JSON part.
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"state": {}, "param_groups": []}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars["state"].setdefault(str(index), {})[key] = value
    for group in state_dict["param_groups"]:
        scalars["param_groups"].append(
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()}
            | {"__tuples__": [k for k, v in group.items() if isinstance(v, tuple)]}
        )
    return tensors, scalars


def join_optimizer_state(
    tensors: dict[str, torch.Tensor], scalars: dict[str, Any]
) -> dict[str, Any]:
    """Inverse of :func:`split_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith("optim."):
            continue
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    for index, entries in scalars.get("state", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = []
    for group in scalars["param_groups"]:
        group = dict(group)
        tuples = group.pop("__tuples__", [])
        groups.append({k: (tuple(v) if k in tuples else v) for k, v in group.items()})
    return {"state": state, "param_groups": groups}


def rng_tensors(generator: torch.Generator, device: str) -> dict[str, torch.Tensor]:
    """RNG states as uint8 tensors: torch's global CPU RNG, the shuffling generator, CUDA's."""
    out = {"rng.torch_cpu": torch.get_rng_state(), "rng.shuffle": generator.get_state()}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        out["rng.cuda"] = torch.cuda.get_rng_state()
    return out


def restore_rng(tensors: dict[str, torch.Tensor], generator: torch.Generator, device: str) -> None:
    """Set the RNG states saved by :func:`rng_tensors`."""
    torch.set_rng_state(tensors["rng.torch_cpu"])
    generator.set_state(tensors["rng.shuffle"])
    if "rng.cuda" in tensors and str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def save_state(
    folder: str | Path,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: str,
) -> None:
    """Optimiser and RNG state after ``epoch`` (tensors, then JSON scalars)."""
    tensors, scalars = split_optimizer_state(optimizer.state_dict())
    tensors.update(rng_tensors(generator, device))
    tensor_path, json_path = state_paths(folder, epoch)
    save_tensors(tensor_path, tensors, {"format": STATE_FORMAT, "epoch": epoch})
    atomic_write_json(json_path, {"format": STATE_FORMAT, "epoch": epoch, "optimizer": scalars})


def load_state(
    folder: str | Path,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: str,
) -> None:
    """Restore what :func:`save_state` wrote into ``optimizer`` and the RNGs."""
    tensor_path, json_path = state_paths(folder, epoch)
    tensors, meta = load_tensors(tensor_path)
    scalars = read_json(json_path)
    if (
        meta.get("format") != STATE_FORMAT
        or not isinstance(scalars, dict)
        or scalars.get("format") != STATE_FORMAT
    ):
        raise DataError(
            f"expected {STATE_FORMAT} files for epoch {epoch} in {folder}, found another format"
        )
    try:
        optimizer.load_state_dict(join_optimizer_state(tensors, scalars["optimizer"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(
            f"expected the optimiser state of this model in {json_path} and {tensor_path.name}, "
            f"found one that does not fit ({type(exc).__name__}: {exc})"
        ) from None
    restore_rng(tensors, generator, device)


def remove_state(folder: str | Path, epoch: int) -> None:
    """Delete the state files of an older epoch (weights stay)."""
    tensor_path, json_path = state_paths(folder, epoch)
    for p in (tensor_path, digest_path(tensor_path), json_path):
        if p.exists():
            p.unlink()


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def write_history(
    folder: str | Path, settings: dict[str, Any], records: list[dict[str, Any]]
) -> Path:
    """``history.json``: the run's settings and its per-epoch records (written last)."""
    last = records[-1]["epoch"] if records else -1
    data = {"format": HISTORY_FORMAT, "settings": settings, "last_epoch": last, "records": records}
    return atomic_write_json(Path(folder) / HISTORY_FILE, data)


def _history_problem(data: Any) -> str | None:
    """What is wrong with the shape of a history.json's contents (None: nothing)."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}"
    missing = [k for k in ("format", "settings", "last_epoch", "records") if k not in data]
    if missing:
        return f"no {', '.join(repr(k) for k in missing)}"
    if data["format"] != HISTORY_FORMAT:
        return f"format {data['format']!r}"
    if not isinstance(data["settings"], dict):
        return f"settings of type {type(data['settings']).__name__}"
    last, records = data["last_epoch"], data["records"]
    if not isinstance(last, int) or isinstance(last, bool) or last < -1:
        return f"last_epoch {last!r}"
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return "records that are not a list of objects"
    epochs = [r.get("epoch") for r in records]
    if epochs != list(range(last + 1)):
        shown = epochs if len(epochs) <= 6 else [*epochs[:3], "...", *epochs[-2:]]
        return f"records of epochs {shown} for last_epoch {last}"
    return None


def read_history(folder: str | Path) -> dict[str, Any] | None:
    """The history of a run folder, or None when there is none.

    Raises
    ------
    DataError
        When history.json is not an object with this module's ``format``, ``settings`` (an
        object), ``last_epoch`` (an int) and ``records`` (one object per epoch 0..last_epoch).
    """
    path = Path(folder) / HISTORY_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    problem = _history_problem(data)
    if problem is not None:
        raise DataError(
            f"expected {HISTORY_FORMAT} in {path} (an object with settings, last_epoch and one "
            f"record per epoch), found {problem}"
        )
    return data


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as {"train.epochs": 2, ...}, so a difference names the setting itself."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_leaves(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def check_settings(folder: str | Path, saved: dict[str, Any], settings: dict[str, Any]) -> None:
    """Refuse to resume from checkpoints saved with other settings.

    Raises
    ------
    ConfigError
        Naming up to three settings that differ, saved against now.
    """
    old, now = _leaves(saved), _leaves(to_jsonable(settings))
    missing = object()
    different = sorted(k for k in set(old) | set(now) if old.get(k, missing) != now.get(k, missing))
    if different:
        shown = ", ".join(
            f"{k}: saved {old.get(k, 'nothing')!r} vs now {now.get(k, 'nothing')!r}" for k in different[:3]
        )
        raise ConfigError(
            f"expected the checkpoints in {folder} to come from the same settings to resume, "
            f"found differences ({shown}); delete the folder or run without --resume"
        )


def resume_point(
    folder: str | Path, settings: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]] | None:
    """The last complete epoch of a run folder and its records, or None to start afresh.

    Everything a resume would read is checked here, before anything is trained or written:
    the settings, the shape of history.json, and every weight file of epochs 0..last plus the
    last epoch's state (recorded SHA-256, finite values).

    Raises
    ------
    ConfigError
        When the saved run used other settings (resuming would mix two experiments).
    DataError
        When history.json is malformed, or names an epoch whose weights or state files are
        missing, changed or damaged.
    """
    history = read_history(folder)
    if history is None:
        return None
    check_settings(folder, history["settings"], settings)
    epoch = history["last_epoch"]
    if epoch < 0:
        return None
    needed = [weights_path(folder, epoch), *state_paths(folder, epoch)]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise DataError(
            f"expected the files of epoch {epoch} ({', '.join(missing)}) in {folder} as "
            f"history.json says, found them missing"
        )
    for e in range(epoch + 1):
        load_weights(weights_path(folder, e))
    load_tensors(state_paths(folder, epoch)[0])
    return epoch, history["records"]
