"""The HTML report (:func:`build_report`), notebook display helpers (:mod:`.display`) and
notebook execution (:mod:`.notebooks`)."""

from rnnlab.report.html import REPORT_FILE, build_report

__all__ = ["REPORT_FILE", "build_report"]
