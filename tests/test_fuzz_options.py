"""Property-based tests of the command line's options: any input is a run or a one-line refusal.

For every section on the measure/present contract, Hypothesis generates values for each option
the section declares (in range, out of range, wrong type, empty, huge) and checks that building
the config either succeeds with the value in the config, or raises a one-line rnnlab error that
names the flag. Through the CLI, the same inputs give exit status 2 and one line on stderr, never
a traceback. Deterministic: derandomised, bounded examples.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.errors import RnnlabError
from rnnlab.experiments import registry, runner
from rnnlab.experiments.base import check_option, declared_options

FUZZ = settings(max_examples=60, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", " ", "0", "-1", "nan", "1e400", "/no/such/dir", "\x00"]),
)


def new_contract_sections():
    out = []
    for name in registry.SECTIONS:
        module = runner.get_section(name)
        if hasattr(module, "measure"):
            out.append((name, module))
    return out


SECTIONS = new_contract_sections()


@pytest.mark.parametrize("name,module", SECTIONS, ids=[n for n, _ in SECTIONS])
@FUZZ
@given(data=st.data())
def test_any_option_value_is_accepted_or_refused_in_one_line(name, module, data):
    options = declared_options(module.Config)
    field = data.draw(st.sampled_from(sorted(options)), label="option")
    value = data.draw(ANY_VALUE, label="value")
    try:
        config = runner.build_config(module, "quick", 0, {field: value})
    except RnnlabError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("expected"), message
        return
    got = getattr(config, field)
    if isinstance(value, float) and math.isnan(value):
        pytest.fail(f"{name}: NaN accepted for {options[field].flag}")
    if options[field].kind is not bool and value is not None:
        assert got is not None


@FUZZ
@given(value=ANY_VALUE)
def test_check_option_is_total(value):
    """check_option never raises anything but a one-line ConfigError, whatever the value."""
    for module in (m for _, m in SECTIONS):
        for opt in declared_options(module.Config).values():
            try:
                check_option(opt, value)
            except RnnlabError as exc:
                assert "\n" not in str(exc)


@pytest.mark.parametrize("name,module", SECTIONS, ids=[n for n, _ in SECTIONS])
def test_cli_refuses_bad_values_with_status_2(name, module, tmp_path, capsys):
    from rnnlab.cli import main

    for opt in declared_options(module.Config).values():
        if opt.kind is bool:
            continue
        bad = "not-a-number" if opt.kind in (int, float) else None
        if bad is None and opt.spec.choices is not None:
            bad = "no-such-choice"
        if bad is None:
            continue
        # argparse itself refuses a wrong type or choice: exit status 2 and a usage line
        with pytest.raises(SystemExit) as exit_info:
            main(["run", name, "--quick", "--no-notebook", "--out", str(tmp_path), opt.flag, bad])
        assert exit_info.value.code == 2
        assert "Traceback" not in capsys.readouterr().err
