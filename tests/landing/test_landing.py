"""The landing zone on a local folder, without servers: what a page record keeps, that only an
accepted and committed extraction is a landing set, and how a replay serves it back."""

from __future__ import annotations

import gzip
import json
from datetime import date
from types import SimpleNamespace

import pytest
from kedro.io.core import DatasetError

from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.landing import Landing, LandingTransport, LandingWriter, LandingZone

RUN_DATE = date(2024, 1, 15)
WINDOW = (date(2024, 1, 14), RUN_DATE)
SECRET = "s3cr3t-key"


def reply(content: bytes, **headers: str):
    return SimpleNamespace(status=200, content=content,
                           headers={"Content-Type": "application/json", "X-Data-Version": "7",
                                    "Set-Cookie": "session=abc", **headers})


class FakeClient:
    """What `Landing.open` needs of an ApiClient: secrets, version header, open(), the tap."""

    secrets = (SECRET, "pw")
    version_header = "X-Data-Version"

    def __init__(self) -> None:
        self.landing, self.opened = None, None

    def open(self, dates, transport=None):
        self.opened = (dates, transport)
        return transport


def page_url(number: int, host: str = "http://user:pw@api.test:5001") -> str:
    return f"{host}/sales?start_date=2024-01-14&end_date=2024-01-15&page={number}&token={SECRET}"


@pytest.fixture
def zone(tmp_path) -> LandingZone:
    return LandingZone(str(tmp_path / "zone"), "retailer_1")


def commit(zone: LandingZone, pages: list[bytes], **headers: str) -> dict:
    writer = LandingWriter(zone, RUN_DATE, FakeClient.secrets, "X-Data-Version")
    writer.begin_attempt()
    for number, content in enumerate(pages, start=1):
        writer.page("GET", page_url(number), None, reply(content, **headers))
    return writer.commit({"window_start": "2024-01-14", "window_end": "2024-01-15", "records": len(pages)})


def test_a_page_is_kept_verbatim_compressed_with_its_request_and_no_secret(zone, tmp_path):
    body = b'{"data": [{"order_id": "A-1", "price": "12,50"}], "total": 1}'
    index = commit(zone, [body])
    day = tmp_path / "zone/landing/retailer_1/year=2024/month=01/day=15"
    assert json.loads((day / "index.json").read_text()) == index
    record = index["page_records"][0]
    assert gzip.decompress((day / index["folder"] / record["file"]).read_bytes()) == body  # byte for byte
    assert record["request"]["url"] == ("http://***@api.test:5001/sales?start_date=2024-01-14&end_date=2024-01-15"
                                        "&page=1&token=***")
    assert record["request"]["params"]["page"] == "1" and record["status"] == 200
    assert record["headers"] == {"Content-Type": "application/json", "X-Data-Version": "7"}  # no cookie
    assert record["retrieved_at"] == index["retrieved_at"] and index["run_date"] == "2024-01-15"
    assert (index["pages"], index["bytes"]) == (1, len(body)) and 0 < record["stored_bytes"] == index["stored_bytes"]
    assert SECRET not in (day / "index.json").read_text() and "pw@" not in (day / "index.json").read_text()


def test_a_crashed_extraction_is_never_a_landing_set_and_the_previous_one_stays(zone):
    first = commit(zone, [b'{"data": [], "total": 0}'])
    crashed = LandingWriter(zone, RUN_DATE, (), None)
    crashed.begin_attempt()
    crashed.page("GET", page_url(1), None, reply(b'{"data": [{"order_id": "B"}], "total": 2}'))
    # killed here: pages written, no index
    assert zone.read_index(RUN_DATE)["folder"] == first["folder"]
    second = commit(zone, [b'{"data": [], "total": 0}'])
    folders = sorted(p.rsplit("/", 1)[-1] for p in zone.fs.ls(zone.day_prefix(RUN_DATE)))
    assert folders == sorted(["index.json", second["folder"]])  # the crashed and the replaced folders went


def test_without_any_committed_set_replay_says_so(zone):
    crashed = LandingWriter(zone, RUN_DATE, (), None)
    crashed.begin_attempt()
    crashed.page("GET", page_url(1), None, reply(b'{"data": []}'))
    landing = Landing("retailer_1", {"root": zone.root}, replay="true")
    with pytest.raises(DatasetError, match="no landing set for run date 2024-01-15"):
        landing.open(FakeClient(), WINDOW)


def test_only_the_attempt_the_consistency_check_accepted_becomes_the_landing_set(zone):
    landing = Landing("retailer_1", {"root": zone.root})
    client = FakeClient()
    landing.open(client, WINDOW)

    def walk(number):  # one attempt's walk, as RetailerApiDataset.events makes it
        landing.begin_attempt()
        client.landing("GET", page_url(1), None, reply(f'{{"data": [], "attempt": {number}}}'.encode()))
        return SimpleNamespace(version="7", records=0, rows=0, number=number)

    walk(1)                   # the source changed during the first walk: a second one is accepted
    extraction = walk(2)
    landing.accept(extraction, 2, "verified_reread")
    index = zone.read_index(RUN_DATE)
    assert (index["attempts"], index["consistency"]) == (2, "verified_reread")
    pages = [p for p in zone.fs.find(zone.day_prefix(RUN_DATE)) if p.endswith(".json.gz")]
    assert len(pages) == 1 and json.loads(gzip.decompress(zone.read(pages[0])))["attempt"] == 2
    assert landing.stats()["landing"]["retrieved_at"] == index["retrieved_at"]


def test_a_failed_extraction_leaves_its_pages_nowhere(zone):
    landing = Landing("retailer_1", {"root": zone.root})
    client = FakeClient()
    landing.open(client, WINDOW)

    landing.begin_attempt()
    client.landing("GET", page_url(1), None, reply(b'{"data": []}'))
    landing.abort()           # the walk failed (RetailerApiDataset.events aborts on any error)
    assert zone.read_index(RUN_DATE) is None and not zone.fs.find(zone.day_prefix(RUN_DATE))


def test_replay_serves_the_recorded_pages_and_nothing_else(zone):
    link = '<http://api.test:5001/sales?cursor=2>; rel="next"'
    commit(zone, [b'{"data": [1]}', b'{"data": [2]}'], Link=link)
    landing = Landing("retailer_1", {"root": zone.root}, replay=True)
    client = FakeClient()
    transport = landing.open(client, WINDOW)
    assert isinstance(transport, LandingTransport) and client.landing is None
    # the API moved: the request comes for the new host, the next link follows it there
    served = transport.request("GET", page_url(2, "http://new.test:9"), headers={}, shown="GET page 2")
    assert (served.status, served.content) == (200, b'{"data": [2]}')
    assert served.headers.get("x-data-version") == "7" and served.links == {"next": "/sales?cursor=2"}
    assert transport.stats.requests == 0
    token = transport.request("POST", "http://new.test:9/oauth/token", headers={}, shown="token", counted=False)
    assert json.loads(token.content)["access_token"]
    with pytest.raises(RetailerApiError, match="has no page for GET page 3"):
        transport.request("GET", page_url(3), headers={}, shown="GET page 3")


def test_a_damaged_page_is_refused(zone):
    index = commit(zone, [b'{"data": [1]}'])
    zone.write(f"{zone.day_prefix(RUN_DATE)}/{index['folder']}/{index['page_records'][0]['file']}",
               gzip.compress(b'{"data": [9]}'))
    transport = Landing("retailer_1", {"root": zone.root}, replay=True).open(FakeClient(), WINDOW)
    with pytest.raises(RetailerApiError, match="does not match its SHA-256"):
        transport.request("GET", page_url(1), headers={}, shown="GET page 1")


def test_replay_refuses_another_window_naming_the_lookback(zone):
    commit(zone, [b'{"data": []}'])
    with pytest.raises(DatasetError, match="lookback_days=1"):
        Landing("retailer_1", {"root": zone.root}, replay=True).open(FakeClient(), (date(2024, 1, 12), RUN_DATE))


def test_replay_flag_is_checked(zone):
    assert not Landing("retailer_1", {"root": zone.root}, replay="false").replay
    with pytest.raises(DatasetError, match="replay must be true or false"):
        Landing("retailer_1", {"root": zone.root}, replay="maybe")
    with pytest.raises(DatasetError, match="replay needs the landing zone"):
        Landing("retailer_1", None, replay=True)
