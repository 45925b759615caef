"""One look for every figure: a colour-blind-safe palette with one fixed colour per model."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are written to files; no display is needed or assumed
import matplotlib.pyplot as plt  # noqa: E402

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}

# The same model has the same colour in every figure of rnnlab.
MODEL_COLORS = {
    "RNN": OKABE_ITO["orange"],
    "LSTM": OKABE_ITO["blue"],
    "GRU": OKABE_ITO["green"],
    "GRU-cho": OKABE_ITO["purple"],
    "BiLSTM": OKABE_ITO["vermillion"],
}
# Gate blocks are told apart by line style and marker, never by colour: colour belongs to the
# model. Analogous gates share a style (LSTM input i and GRU reset r; forget f and update z; the
# tanh candidates g, n and the RNN's state).
GATE_LINESTYLES = {"h": "-", "i": "--", "r": "--", "f": "-", "z": "-", "g": ":", "n": ":",
                   "o": "-."}
GATE_MARKERS = {"h": "o", "i": "^", "r": "^", "f": "s", "z": "s", "g": "D", "n": "D", "o": "v"}
EXTRA_COLORS = [OKABE_ITO[k] for k in ("sky_blue", "vermillion", "purple", "yellow", "black")]

DPI = 120


def model_color(name: str) -> str:
    """The fixed colour of a model (``"RNN"``, ``"LSTM"``, ``"GRU"``...), case-insensitive."""
    for key, color in MODEL_COLORS.items():
        if key.lower() == name.lower():
            return color
    raise KeyError(f"no colour for model {name!r}; expected one of {sorted(MODEL_COLORS)}")


def gate_style(gate: str) -> dict[str, str]:
    """Matplotlib keywords (``ls``, ``marker``) that mark gate block ``gate`` (``"i"``, ``"f"``...)."""
    return {"ls": GATE_LINESTYLES[gate], "marker": GATE_MARKERS[gate]}


def apply_style() -> None:
    """Set rnnlab's matplotlib defaults (call before drawing)."""
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "figure.titlesize": 12,
        }
    )


def save_figure(fig: "plt.Figure", path: Path) -> Path:
    """Save ``fig`` as PNG at ``path`` (folders created), close it and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


apply_style()
