"""Tooling for the EV-charger telemetry warehouse: a fleet log generator and its benchmark."""

__version__ = "0.1.0"
