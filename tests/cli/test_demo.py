"""`keras-zfnet demo --quick`: the page, its images, sections, tables and
`results.json`."""

import base64
import html.parser
import json
import os

import pytest

from keras_zfnet.cli.demo import SECTION_IDS
from tests.cli.demo_run import quick_demo_folder

pytestmark = pytest.mark.xdist_group("demo")


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.ids, self.links, self.cells = [], set(), [], []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("a", "link", "script") and (attrs.get("href") or
                                               attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)
            self._in_td = False


@pytest.fixture(scope="module")
def demo():
    folder = quick_demo_folder()
    page = _Page()
    with open(os.path.join(folder, "index.html"), encoding="utf-8") as f:
        page.feed(f.read())
    with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    return folder, page, results


def test_every_section_is_present(demo):
    _, page, results = demo
    assert set(SECTION_IDS) <= page.ids
    assert set(SECTION_IDS) - {"run"} == set(results["sections"])


def test_every_image_resolves(demo):
    folder, page, _ = demo
    assert len(page.images) >= 8
    for src in page.images:
        if src.startswith("data:image/png;base64,"):
            png = base64.b64decode(src.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert os.path.isfile(os.path.join(folder, src)), src
    for link in page.links:  # no external assets; relative links exist
        assert "://" not in link or link.startswith("data:"), link
        if not link.startswith(("data:", "#")):
            assert os.path.isfile(os.path.join(folder, link)), link


def test_tables_hold_numbers_and_match_their_json(demo):
    folder, page, results = demo
    numeric = [c for c in page.cells
               if c.replace(".", "", 1).replace("%", "").replace("-", "", 1)
               .strip().isdigit()]
    assert len(numeric) > 50
    with open(os.path.join(folder, "correspondence.json")) as f:
        rows = json.load(f)
    assert rows and {"part", "layer", "mean", "random mean"} <= set(rows[0])
    measured = results["sections"]["correspondence"]["numbers"]["rows"]
    assert [r["part"] for r in measured] == [r["part"] for r in rows]
    for row, number in zip(rows, measured):
        assert float(row["mean"]) == pytest.approx(number["mean"], abs=5e-4)
        assert 0.0 <= number["mean"] <= 1.0
    for name in ("fig2_layers", "fig5_invariance", "fig6_diagnosis",
                 "fig7_occlusion", "timings", "run"):
        assert os.path.isfile(os.path.join(folder, f"{name}.csv")), name


def test_results_follow_the_documented_structure(demo):
    _, _, results = demo
    assert {"version", "command", "data", "seed", "quick", "accuracy",
            "sections", "seconds", "cpu_seconds"} <= set(results)
    assert results["data"]["source"] in ("full", "sample")
    assert results["data"]["images"] == 500 and results["quick"] is True
    for section in results["sections"].values():
        assert {"title", "seconds", "cpu_seconds", "numbers"} <= set(section)
        assert section["seconds"] >= 0
    fig7 = results["sections"]["fig7"]["numbers"]
    assert all(0 <= p <= 1 for p in fig7["lowest_probability"])
    fig5 = results["sections"]["fig5"]["numbers"]
    assert fig5["shift4_conv1"] > 0 and fig5["shift4_fc7"] > 0
    assert fig5["images"] == 100 and fig5["shift4_fc7_half_interval"] > 0
    fig2 = results["sections"]["fig2"]["numbers"]
    for layer in ("conv1", "conv5"):
        # purity over all channels, beside the random-weights control
        assert 0 < fig2[layer]["class_purity"] <= 1
        assert 0 < fig2[layer]["random_weights_class_purity"] <= 1
    assert 0.5 < results["accuracy"]["zfnet"] <= 1.0


def test_captions_only_claim_what_the_numbers_show(demo):
    folder, _, results = demo
    text = open(os.path.join(folder, "index.html"), encoding="utf-8").read()
    fig7 = results["sections"]["fig7"]["numbers"]
    drops = sum(p < 0.5 for p in fig7["lowest_probability"])
    assert (f"falls below 0.5 for {drops} of "
            f"{len(fig7['lowest_probability'])} images") in text
    fig5 = results["sections"]["fig5"]["numbers"]
    claim = "fc7 changes less than conv1"
    upper = (fig5["shift4_fc7_minus_conv1"]
             + fig5["shift4_fc7_minus_conv1_half_interval"])
    assert (claim in text) == (upper < 0)


def test_the_report_links_the_presets_unit_browser(demo):
    folder, page, results = demo
    assert "units" in page.ids
    assert "units/index.html" in page.links
    site = os.path.join(folder, "units")
    assert os.path.isfile(os.path.join(site, "index.html"))
    assert results["units"]["path"] == "units/index.html"
