"""A faithful local stand-in of the Questa AI anonymization API (tier L1; imports L0 only).

Every endpoint, field, status code, header and error body of the service's documentation,
with the behaviours we pick where it is silent (docs/simulator.md). Start one for tests::

    from vault.simulator import ManualClock, SimulatorConfig, run_simulator

    clock = ManualClock()
    with run_simulator(SimulatorConfig(tokens=("t0k",), processing_time=2, clock=clock)) as sim:
        ...  # talk HTTP to sim.url; clock.advance(3); sim.state.fail(job_id); ...

Modules: ``config`` (knobs, ManualClock) · ``detect`` (the deterministic PII detector) ·
``anonymize`` (numbering rules, text/CSV/opaque files) · ``service`` (request validation, jobs)
· ``state`` (job lifecycle, limits, counters) · ``app`` (Starlette routes) · ``server``
(uvicorn in a thread).
"""

from __future__ import annotations

from vault.simulator._app import create_app
from vault.simulator._config import (
    DEFAULT_RETENTION,
    RATE_LIMIT_PER_MINUTE,
    REQUEST_CAP,
    ManualClock,
    SimulatorConfig,
)
from vault.simulator._detect import DETECTED_TYPES, ENTITY_TYPES
from vault.simulator._server import RunningSimulator, SimulatorError, run_simulator
from vault.simulator._state import JobView, SimulatorState

__all__ = [
    "DEFAULT_RETENTION",
    "DETECTED_TYPES",
    "ENTITY_TYPES",
    "RATE_LIMIT_PER_MINUTE",
    "REQUEST_CAP",
    "JobView",
    "ManualClock",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorState",
    "create_app",
    "run_simulator",
]
