"""The landing zone: each extraction's response pages, verbatim and compressed, so a window can
be normalized again (replay) after a mapping rule is fixed, without asking the retailer.

`Landing` is what `RetailerApiDataset` holds (its `landing:` and `replay` options):

- a normal load taps the API client (`ApiClient.landing`, called where each response body is
  received) with a `LandingWriter`, one folder per extraction attempt, and commits the
  attempt the consistency check accepted as the run date's landing set (index last);
- a replay load opens the client on a `LandingTransport` (replay.py) over the committed set:
  same paging walk, response checks and page decoding, no HTTP request.

Layout and crash safety: landing/zone.py. The page record: docs/contracts.md.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from kedro.io.core import DatasetError

from retail_pipeline.extraction.consistency import Verdict
from retail_pipeline.landing.replay import LandingTransport
from retail_pipeline.landing.writer import LandingWriter
from retail_pipeline.landing.zone import LandingZone

__all__ = ["Landing", "LandingTransport", "LandingWriter", "LandingZone", "is_true"]

log = logging.getLogger(__name__)

LANDING_KEYS = {"root", "credentials", "fs_args", "timeouts", "write"}


def is_true(value: Any) -> bool:
    """A runtime parameter as a flag (`--params replay=true` arrives as text or bool)."""
    if isinstance(value, str):
        if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no", ""):
            raise DatasetError(f"replay must be true or false, got {value!r}")
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


class Landing:
    """One retailer's landing: what its API dataset writes (`write`) and replays (`replay`)."""

    def __init__(self, retailer: str, config: dict[str, Any] | None, replay: Any = False) -> None:
        config = dict(config or {})
        unknown = set(config) - LANDING_KEYS
        if unknown:
            raise DatasetError(f"{retailer}: unknown landing option(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(sorted(LANDING_KEYS))}")
        self.retailer, self.replay = retailer, is_true(replay)
        self.zone = LandingZone(config["root"], retailer, config.get("credentials"), config.get("fs_args"),
                                config.get("timeouts")) if config.get("root") else None
        self.write = self.zone is not None and bool(config.get("write", True)) and not self.replay
        if self.replay and self.zone is None:
            raise DatasetError(f"{retailer}: replay needs the landing zone (the API dataset's landing.root)")
        self.writer: LandingWriter | None = None
        self.dates = ("", "")
        self.index: dict[str, Any] | None = None

    def open(self, client: Any, window: tuple[date, date]) -> Any:
        """`client.open(window)` on the network (with the landing tap) or on the landing set."""
        dates = self.dates = (window[0].isoformat(), window[1].isoformat())
        self.writer, self.index = None, None
        if not self.replay:
            client.landing = None
            if self.write:
                self.writer = LandingWriter(self.zone, window[1], client.secrets, client.version_header)
                client.landing = self.writer.page
            return client.open(dates)
        index = self.zone.read_index(window[1])
        where = self.zone.shown(self.zone.index_path(window[1]))
        if index is None:
            raise DatasetError(f"{self.retailer}: replay: no landing set for run date {window[1]} at {where}; "
                               f"only runs that called the API keep one (run without replay=true first)")
        if (index["window_start"], index["window_end"]) != dates:
            raise DatasetError(
                f"{self.retailer}: replay: the landing set at {where} holds the window "
                f"{index['window_start']}..{index['window_end']}, not {dates[0]}..{dates[1]}; rerun with "
                f"lookback_days={(date.fromisoformat(index['window_end']) - date.fromisoformat(index['window_start'])).days}")
        self.index = index
        client.landing = None
        return client.open(dates, transport=LandingTransport(self.zone, index, client.secrets))

    # -- one extraction, attempt by attempt (RetailerApiDataset.events) --------------------
    def begin_attempt(self) -> None:
        """A new walk: its pages go to a folder of their own (an earlier attempt's are void)."""
        if self.writer is not None:
            self.writer.begin_attempt()

    def replayed(self, extraction: Any) -> Verdict:
        """A replay's walk is the accepted extraction itself: taken as the landing set says it
        was accepted, unless its own paging fields contradict each other (a damaged set)."""
        problem = extraction.contradiction()
        if problem:
            raise DatasetError(f"{self.retailer}: replay: the landing set contradicts itself: {problem}")
        return Verdict(self.index.get("consistency") or "replay")

    def accept(self, extraction: Any, attempts: int, how: str) -> None:
        """The accepted attempt's pages become the run date's landing set (index written last)."""
        if self.writer is None:
            return
        self.index = self.writer.commit({
            "window_start": self.dates[0], "window_end": self.dates[1],
            "attempts": attempts, "consistency": how, "data_version": extraction.version,
            "records": extraction.records, "rows": extraction.rows})

    def abort(self) -> None:
        """The extraction failed or was abandoned: its pages never become a landing set."""
        if self.writer is not None:
            self.writer.abort()

    def stats(self) -> dict[str, Any]:
        """What the manifest says about the source: `source` (api | replay) and `landing`."""
        if self.index is None:
            return {"source": "replay" if self.replay else "api"}
        index = self.index
        return {"source": "replay" if self.replay else "api",
                "landing": {"index": self.zone.shown(self.zone.index_path(date.fromisoformat(index["run_date"]))),
                            "retrieved_at": index["retrieved_at"], "committed_at": index["committed_at"],
                            "pages": index["pages"], "bytes": index["bytes"],
                            "stored_bytes": index["stored_bytes"], "records": index.get("records")}}
