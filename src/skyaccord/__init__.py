"""skyaccord: keep apart the aircraft of parties who share an airspace but not their plans.

Engines (each a package or module with a typed API): :mod:`skyaccord.protocol` (the accord
as data), :mod:`skyaccord.tactical` (conflict detection), :mod:`skyaccord.tracks` (the
picture as arrays). Importing skyaccord has no side effects.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
