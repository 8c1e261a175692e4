"""SLO at risk during a watch: the error budget's burn rate over the watch's own windows.

The ladder's "SLO at risk" rung (hold: a person decides within 4 h) had no detector; it came only
from a hand-written snapshot. The SRE workbook's answer ("Alerting on SLOs", multiwindow,
multi-burn-rate alerts) is used here on the windows a watch has already measured:

    burn rate over a span = error rate over the span / (1 - availability target)

1x spends exactly the budget over the SLO window (30 days); 14.4x spends 2 % of it in an hour.
A pair (long, short, factor) fires when *both* spans burn faster than ``factor``: the long one
says enough budget went to matter, the short one that it is still going (so the signal clears
soon after the burning stops). The plan's pairs are ``slo.burn_rates``
(``odin_drills.plan.slo.BurnRatePair``; default the workbook's paging pairs 1 h/5 min at 14.4x
and 6 h/30 min at 6x).

Spans are made of whole windows, newest first, until they cover the span's length: a pair waits
until the watch has measured its whole long window (a 5-minute gate after a T-0 step never
reaches the 1 h window, the T+1h validation does in its last window, the T+24h watch all day), so
a few unlucky requests at the start of a watch are not an hour of burn. A short span shorter than
one window is the newest window. Why the watch's own windows and not the source's history: the
windows are what the judge saw and journaled, for every metric source (probe, Prometheus,
Application Insights), and a rule on them replays (``odin replay``) exactly as it ran.

The rung is the ladder's (ARCHITECTURE.md, ``gates.signal_reasons``): ``slo_at_risk`` -> hold,
with this module's sentence, burn rates and counts, as the decision's reason. Like every
threshold in the workbook's rule it is a point rule on counts, not a statistical test; the long
window's requirement is what keeps it from firing on a handful of errors.

Pure: window lengths in, no clock read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from odin_drills.steps.gates import _pct
from odin_drills.steps.snapshot import Snapshot

_COVERED = 1e-6
"""Relative slack when whole windows cover a span (12 x 300 s is 3600 s, 11 x 327.27... is too)."""


@dataclass(frozen=True)
class SpanBurn:
    """A span's burn: how long it really covers (whole windows), its counts and burn rate."""

    seconds: float
    requests: int
    errors: int
    burn: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class PairBurn:
    """One pair evaluated on the watch so far; ``long``/``short`` None: not yet covered."""

    long_seconds: float
    short_seconds: float
    factor: float
    long: SpanBurn | None
    short: SpanBurn | None

    @property
    def fired(self) -> bool:
        return (self.long is not None and self.short is not None
                and self.long.burn > self.factor and self.short.burn > self.factor)


class BurnRateMonitor:
    """The burn rates of one watch. ``observe(window, seconds)`` adds a window of that many plan
    seconds and returns it with ``slo_at_risk`` (and its sentence) set when a pair fires."""

    def __init__(self, availability: float, pairs: Sequence[Any], slo_window_seconds: float) -> None:
        self.availability = availability
        self.allowed = 1.0 - availability / 100.0  # the budget's sustainable error rate
        self.pairs = list(pairs)
        self.slo_window_seconds = slo_window_seconds
        self.windows: list[tuple[float, int, int]] = []  # (seconds, requests, errors), oldest first
        self.last: list[PairBurn] = []

    @classmethod
    def for_slo(cls, slo: Any) -> "BurnRateMonitor | None":
        """A monitor for a plan's ``slo`` (None without an SLO or with ``burn_rates: []``)."""
        if slo is None or not getattr(slo, "burn_rates", None):
            return None
        return cls(slo.availability, slo.burn_rates, slo.window)

    def observe(self, window: Snapshot, seconds: float) -> Snapshot:
        self.windows.append((seconds, window.requests, window.errors))
        self.last = [self._pair(pair) for pair in self.pairs]
        fired = [pair for pair in self.last if pair.fired]
        if not fired or window.signals.slo_at_risk:
            return window
        details = {**window.signals.details, "slo_at_risk": self._sentence(fired)}
        signals = window.signals.model_copy(update={"slo_at_risk": True, "details": details})
        return window.model_copy(update={"signals": signals})

    def _pair(self, pair: Any) -> PairBurn:
        return PairBurn(long_seconds=pair.long, short_seconds=pair.short, factor=pair.factor,
                        long=self._span(pair.long, whole=True), short=self._span(pair.short, whole=False))

    def _span(self, seconds: float, *, whole: bool) -> SpanBurn | None:
        """The newest windows covering ``seconds``; with ``whole``, None until the watch has them all."""
        covered, requests, errors = 0.0, 0, 0
        for length, n, y in reversed(self.windows):
            covered, requests, errors = covered + length, requests + n, errors + y
            if covered >= seconds * (1 - _COVERED):
                break
        else:
            if whole or not self.windows:
                return None
        if requests == 0:
            return None
        return SpanBurn(covered, requests, errors, (errors / requests) / self.allowed)

    def _sentence(self, fired: list[PairBurn]) -> str:
        parts = []
        for pair in fired:
            long, short = pair.long, pair.short
            assert long is not None and short is not None
            spent = long.burn * long.seconds / self.slo_window_seconds
            lasts = self.slo_window_seconds / long.burn
            parts.append(
                f"error budget burning {long.burn:.1f}x over the last {_span(long.seconds)} ({_pct(long.error_rate)} "
                f"errors: {long.errors:,} of {long.requests:,} requests) and {short.burn:.1f}x over the last "
                f"{_span(short.seconds)} ({short.errors:,} of {short.requests:,}), both above {pair.factor:g}x "
                f"(pair {_span(pair.long_seconds)}/{_span(pair.short_seconds)}): {spent:.1%} of the "
                f"{_span(self.slo_window_seconds)} budget spent in {_span(long.seconds)}, all of it in "
                f"{_span(lasts)} at this rate")
        return (f"SLO at risk ({self.availability:g} % availability, slo.burn_rates): " + "; ".join(parts))


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if abs(value - round(value)) < 0.05 else f"{value:.1f} {unit}"
    return f"{seconds:.0f} s"

