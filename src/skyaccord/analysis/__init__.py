"""Encounters, severity, conduct per party and HTML reports of recorded runs."""

from skyaccord.analysis.conduct import Conduct, Summary, summarize
from skyaccord.analysis.encounters import Encounters, encounters
from skyaccord.analysis.rundata import Run, TrackGrid, load_run
from skyaccord.analysis.severity import SeverityRules, classify

__all__ = ["Conduct", "Encounters", "Run", "SeverityRules", "Summary", "TrackGrid", "classify",
           "encounters", "load_run", "summarize"]
