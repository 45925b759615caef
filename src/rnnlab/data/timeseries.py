"""Real time series from vega_datasets, windowed for one-step-ahead regression.

- :func:`load_series` reads one series (daily Seattle weather, hourly Seattle temperatures or a
  monthly stock price) into a :class:`Series`: dates, input features and the target.
- :func:`make_windows` cuts it into (window of inputs, future target) pairs, splits them by
  time (every training target comes before the first test target; inputs always come before
  their target), and standardises inputs and target with statistics of the training period only.
- :func:`persistence_forecast` and :func:`seasonal_forecast` are the naive baselines, in the
  series' own units (degrees Celsius for the temperatures, US dollars for the stocks).

No step uses a value from after the time it predicts: the test period's values never enter the
training windows, the normalisation statistics or the seasonal climatology.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, DataError, ShapeError

SERIES = ("seattle-daily", "seattle-hourly", "stocks")
STOCK_SYMBOLS = ("MSFT", "AMZN", "IBM", "GOOG", "AAPL")


@dataclass(frozen=True)
class Series:
    """A time series with input features and a target to forecast.

    Attributes
    ----------
    name : str
        E.g. ``"seattle-daily"``.
    description : str
        What it is, in words.
    dates : ndarray of datetime64, shape (T,)
    features : ndarray of float64, shape (T, F)
        Inputs at each time (the target's own past values are feature 0).
    feature_names : tuple of str
    target : ndarray of float64, shape (T,)
        The quantity to forecast, in ``unit``.
    unit : str
        ``"°C"`` or ``"USD"``.
    test_start : int
        Index of the first time step of the test period.
    seasonal : str
        ``"day-of-year"`` (climatology of the training years), ``"hour-of-day"`` (mean of the
        same hour over the previous days) or ``"none"`` (mean of the input window).
    predict_change : bool
        Models learn the change target[t] - target[t - horizon] instead of the level (for
        prices, whose test period lies outside the training range); forecasts are then
        the last observed value plus the predicted change.
    """

    name: str
    description: str
    dates: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    target: np.ndarray
    unit: str
    test_start: int
    seasonal: str
    predict_change: bool = False


@dataclass(frozen=True)
class Windows:
    """Windowed, time-split and standardised series.

    Attributes
    ----------
    x_train, x_test : ndarray of float32, shape (N, W, F)
        Windows of W standardised input rows.
    y_train, y_test : ndarray of float32, shape (N,)
        Standardised targets, (value - target_mean) / target_std, where value is the target
        itself or, with ``Series.predict_change``, its change since the last observed row.
    t_train, t_test : ndarray of int64, shape (N,)
        Index (in the series) of each window's target.
    feature_mean, feature_std : ndarray, shape (F,)
        Training-period statistics (periodic features are left as they are: mean 0, std 1).
    target_mean, target_std : float
        Training-period statistics of the (level or change) target.
    base_train, base_test : ndarray of float64, shape (N,)
        What a forecast adds to the un-standardised model output: 0 for levels, the last
        observed value target[t - horizon] for changes.
    window, horizon : int
        Inputs are rows t - horizon - window + 1 .. t - horizon for the target at row t.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    t_train: np.ndarray
    t_test: np.ndarray
    feature_mean: np.ndarray
    feature_std: np.ndarray
    target_mean: float
    target_std: float
    window: int
    horizon: int
    base_train: np.ndarray
    base_test: np.ndarray

    def to_units(self, y_scaled: np.ndarray, base: np.ndarray | float = 0.0) -> np.ndarray:
        """Standardised outputs as forecasts in the series' unit: base + y * std + mean.

        Pass ``base_test`` (or ``base_train``) for the matching windows.
        """
        return base + np.asarray(y_scaled, dtype=np.float64) * self.target_std + self.target_mean


def _cyclic(values: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    angle = 2.0 * np.pi * values / period
    return np.sin(angle), np.cos(angle)


def _first_index(dates: np.ndarray, when: str) -> int:
    idx = np.flatnonzero(dates >= np.datetime64(when))
    if len(idx) == 0:
        raise DataError(f"expected dates on or after {when}, found the series ends at {dates[-1]}")
    return int(idx[0])


def load_series(name: str = "seattle-daily", symbol: str = "AAPL") -> Series:
    """Read one of the vega_datasets series.

    ``seattle-daily``
        Daily Seattle weather 2012-2015 (1,461 days): target is the next day's maximum
        temperature in °C; inputs are max and min temperature, precipitation, wind and the day
        of the year as sine and cosine. Test period: 2015.
    ``seattle-hourly``
        Hourly Seattle temperatures of 2010 (8,759 hours), converted from °F to °C; inputs are
        the temperature and the hour of the day as sine and cosine. Test period: October to
        December.
    ``stocks``
        Monthly closing price of ``symbol`` 2000-2010 in USD; input is the monthly log return;
        the models predict next month's change in price (``predict_change``). Test period:
        2008 onwards.

    Raises
    ------
    ConfigError
        Unknown series or symbol.
    """
    if name not in SERIES:
        raise ConfigError(f"expected a series in {SERIES}, found {name!r}")
    try:
        from vega_datasets import local_data
    except ImportError:
        raise DataError(
            "expected the vega_datasets package (pip install vega_datasets), found it missing"
        ) from None

    if name == "seattle-daily":
        df = local_data.seattle_weather().sort_values("date")
        dates = df["date"].to_numpy()
        doy = df["date"].dt.day_of_year.to_numpy().astype(np.float64)
        sin_d, cos_d = _cyclic(doy, 365.25)
        features = np.stack(
            [df["temp_max"], df["temp_min"], df["precipitation"], df["wind"], sin_d, cos_d], axis=1
        ).astype(np.float64)
        return Series(
            name=name,
            description="daily maximum temperature in Seattle, 2012-2015 (vega_datasets seattle_weather)",
            dates=dates,
            features=features,
            feature_names=("temp_max", "temp_min", "precipitation", "wind", "sin_day", "cos_day"),
            target=df["temp_max"].to_numpy(np.float64),
            unit="°C",
            test_start=_first_index(dates, "2015-01-01"),
            seasonal="day-of-year",
        )
    if name == "seattle-hourly":
        df = local_data.seattle_temps().sort_values("date")
        dates = df["date"].to_numpy()
        celsius = (df["temp"].to_numpy(np.float64) - 32.0) * 5.0 / 9.0  # °C = (°F - 32) * 5/9
        hour = df["date"].dt.hour.to_numpy().astype(np.float64)
        sin_h, cos_h = _cyclic(hour, 24.0)
        return Series(
            name=name,
            description="hourly temperature in Seattle, 2010, converted to °C (vega_datasets seattle_temps)",
            dates=dates,
            features=np.stack([celsius, sin_h, cos_h], axis=1),
            feature_names=("temp", "sin_hour", "cos_hour"),
            target=celsius,
            unit="°C",
            test_start=_first_index(dates, "2010-10-01"),
            seasonal="hour-of-day",
        )
    if symbol not in STOCK_SYMBOLS:
        raise ConfigError(f"expected a stock symbol in {STOCK_SYMBOLS}, found {symbol!r}")
    df = local_data.stocks()
    df = df[df["symbol"] == symbol].sort_values("date")
    dates = df["date"].to_numpy()
    price = df["price"].to_numpy(np.float64)
    log_return = np.diff(np.log(price), prepend=np.log(price[0]))  # r_t = log p_t - log p_{t-1}
    return Series(
        name=name,
        description=f"monthly {symbol} share price 2000-2010 in USD (vega_datasets stocks)",
        dates=dates,
        features=log_return[:, None],
        feature_names=("log_return",),
        target=price,
        unit="USD",
        test_start=_first_index(dates, "2008-01-01"),
        seasonal="none",
        predict_change=True,
    )


def _periodic_columns(names: tuple[str, ...]) -> np.ndarray:
    return np.array([n.startswith(("sin_", "cos_")) for n in names])


def make_windows(series: Series, window: int, horizon: int = 1) -> Windows:
    """Cut a series into (input window, target) pairs, split by time, standardise.

    The target at row t is predicted from rows t - horizon - window + 1 .. t - horizon.
    A pair is in the training set when its target row t < ``series.test_start`` and in the test
    set otherwise; so no training pair sees a test-period target, while test inputs may reach
    back into the training period (that is the past, known at forecast time).
    Feature statistics come from rows before ``test_start`` only, target statistics from the
    training targets only.

    Parameters
    ----------
    series : Series
    window : int
        W, the number of input rows (>= 1).
    horizon : int
        How many steps ahead the target is (>= 1).

    Returns
    -------
    Windows

    Raises
    ------
    ConfigError
        ``window`` or ``horizon`` below 1.
    DataError
        Too short a series for that window, or no pair in the train or test period.
    """
    if window < 1 or horizon < 1:
        raise ConfigError(
            f"expected window >= 1 and horizon >= 1, found window={window}, horizon={horizon}"
        )
    n_rows = len(series.target)
    if series.features.shape[0] != n_rows:
        raise ShapeError(
            f"expected {n_rows} feature rows (one per target), found {series.features.shape[0]}"
        )
    first = window + horizon - 1  # first target row with a full window
    targets = np.arange(first, n_rows)
    t_train = targets[targets < series.test_start]
    t_test = targets[targets >= series.test_start]
    if len(t_train) == 0 or len(t_test) == 0:
        raise DataError(
            f"expected windows in both periods of {series.name} (window {window}, horizon "
            f"{horizon}), found {len(t_train)} train and {len(t_test)} test"
        )
    past = slice(0, series.test_start)  # training period only
    f_mean = series.features[past].mean(axis=0)
    f_std = series.features[past].std(axis=0)
    periodic = _periodic_columns(series.feature_names)
    f_mean[periodic], f_std[periodic] = 0.0, 1.0
    if np.any(f_std <= 0):
        raise DataError(
            f"expected varying features in the training period of {series.name}, found a constant one"
        )

    def base(t: np.ndarray) -> np.ndarray:  # what the model's output is added to
        return series.target[t - horizon] if series.predict_change else np.zeros(len(t))

    if series.predict_change:  # statistics of the training targets' changes
        values = series.target[t_train] - base(t_train)
    else:  # statistics of the training period's values
        values = series.target[past]
    y_mean, y_std = float(values.mean()), float(values.std())
    if not y_std > 0:
        raise DataError(
            f"expected a varying target in the training period of {series.name}, found a constant"
        )
    scaled = (series.features - f_mean) / f_std  # (T, F)
    offsets = np.arange(-horizon - window + 1, -horizon + 1)  # (W,) relative input rows

    def cut(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = t[:, None] + offsets[None, :]  # (N, W), every row < t
        x = scaled[rows].astype(np.float32)  # (N, W, F)
        y = ((series.target[t] - base(t) - y_mean) / y_std).astype(np.float32)
        return x, y

    x_train, y_train = cut(t_train)
    x_test, y_test = cut(t_test)
    return Windows(
        x_train,
        y_train,
        x_test,
        y_test,
        t_train,
        t_test,
        f_mean,
        f_std,
        y_mean,
        y_std,
        window,
        horizon,
        base(t_train),
        base(t_test),
    )


def persistence_forecast(series: Series, t: np.ndarray, horizon: int = 1) -> np.ndarray:
    """Naive forecast: the last observed value, target[t - horizon] (tomorrow = today)."""
    t = np.asarray(t)
    if np.any(t - horizon < 0):
        raise ConfigError(f"expected target rows >= horizon {horizon}, found {t.min()}")
    return series.target[t - horizon]


def seasonal_forecast(
    series: Series,
    t: np.ndarray,
    horizon: int = 1,
    window: int = 1,
    half_width: int = 7,
    days: int = 7,
) -> np.ndarray:
    """Naive seasonal forecast in the series' unit, from the past only.

    - ``day-of-year``: the training-period mean of the target over the days within
      ``half_width`` days of the same day of the year (circular), i.e. a climatology.
    - ``hour-of-day``: the mean of the target at the same hour on each of the previous ``days``
      days that are already observed (rows t - 24 k, k = 1..days, with 24 k >= horizon).
    - ``none``: the mean of the target over the input window (rows t-horizon-window+1..t-horizon).
    """
    t = np.asarray(t)
    if series.seasonal == "day-of-year":
        train = slice(0, series.test_start)
        doy_all = (
            series.dates.astype("datetime64[D]") - series.dates.astype("datetime64[Y]")
        ).astype(int) + 1
        doy_train, y_train = doy_all[train], series.target[train]
        out = np.empty(len(t))
        for i, row in enumerate(t):
            gap = np.abs(doy_train - doy_all[row])
            near = np.minimum(gap, 366 - gap) <= half_width  # circular distance in days
            out[i] = y_train[near].mean()
        return out
    if series.seasonal == "hour-of-day":
        lags = np.array([24 * k for k in range(1, days + 1) if 24 * k >= horizon])
        rows = t[:, None] - lags[None, :]  # (N, days)
        valid = rows >= 0
        values = np.where(valid, series.target[np.clip(rows, 0, None)], 0.0)
        return values.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    rows = t[:, None] + np.arange(-horizon - window + 1, -horizon + 1)[None, :]
    return series.target[rows].mean(axis=1)


def seasonal_description(series: Series) -> str:
    """What :func:`seasonal_forecast` does for this series, in words."""
    return {
        "day-of-year": "mean of the same day of the year (±7 days) over the training years",
        "hour-of-day": "mean of the same hour over the previous 7 days",
        "none": "mean of the input window",
    }[series.seasonal]


def regression_errors(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean absolute error and root mean squared error, in the unit of the inputs."""
    prediction, truth = np.asarray(prediction, np.float64), np.asarray(truth, np.float64)
    if prediction.shape != truth.shape:
        raise ShapeError(f"expected predictions of shape {truth.shape}, found {prediction.shape}")
    err = prediction - truth
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean()))}
