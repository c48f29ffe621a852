"""Every Worker in wrangler.toml bundles offline with ``pywrangler deploy --dry-run``, with all
of src/ and the vendored packages (segno, which draws the swarm's QR codes, included), none of
the tests, and within the free plan's compressed-size limit (scripts/bundle_check.py)."""

from __future__ import annotations

import sys

import pytest

from driver import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import bundle_check

pytestmark = pytest.mark.bundle

WORKERS = bundle_check.workers()


def test_wrangler_toml_declares_the_index_builder_at_top_level():
    assert WORKERS[bundle_check.TOP_LEVEL] is None


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_worker_bundles_with_our_modules_and_no_tests(worker):
    bundle = bundle_check.check(worker, WORKERS[worker])
    bundle_check.record([bundle])

    assert bundle.problems == ()
    assert bundle.upload_kib is not None and bundle.files > 0
    assert bundle.gzip_kib is not None and bundle.gzip_kib <= bundle_check.GZIP_BUDGET_KIB
    assert (ROOT / "dist" / worker / "cfbindings" / "__init__.py").exists()
