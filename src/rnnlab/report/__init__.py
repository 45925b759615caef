"""The HTML report (:func:`build_report`), notebook display helpers (:mod:`.display`) and
notebook execution (:mod:`.notebooks`)."""

from rnnlab.report.html import build_report, describe_report
from rnnlab.results import REPORT_FILE

__all__ = ["REPORT_FILE", "build_report", "describe_report"]
