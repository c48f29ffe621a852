"""``bundle_worker``: pywrangler's output becomes a reproducible archive with its sha256."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from flaresuite_host.release.bundle import bundle_worker, read_bundle
from flaresuite_host.release.errors import ReleaseError, ReleaseSetupError
from flaresuite_host.release.fingerprint import MAX_BUNDLE_BYTES

from .conftest import FakePywrangler


def members(archive: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return tar.getmembers()


def test_the_same_sources_give_the_same_bytes_and_sha256(project: Path) -> None:
    pywrangler = FakePywrangler()
    first = bundle_worker(project, "index", pywrangler)
    first_bytes = first.archive.read_bytes()
    second = bundle_worker(project, "index", pywrangler)

    assert second.fingerprint == first.fingerprint
    assert second.archive.read_bytes() == first_bytes
    assert first.fingerprint.sha256 == hashlib.sha256(first_bytes).hexdigest()
    assert first.fingerprint.size == len(first_bytes)


def test_changed_sources_give_a_different_sha256(project: Path) -> None:
    before = bundle_worker(project, "index", FakePywrangler())
    (project / "src" / "index_worker.py").write_text("# index entry, edited\n")
    after = bundle_worker(project, "index", FakePywrangler())
    assert after.fingerprint.sha256 != before.fingerprint.sha256


def test_the_top_level_worker_is_selected_explicitly_and_others_by_env(project: Path) -> None:
    pywrangler = FakePywrangler()
    bundle_worker(project, "index", pywrangler)
    bundle_worker(project, "purge", pywrangler)
    bundle_worker(project, "glean", pywrangler)  # inherits `main` from the top level
    assert pywrangler.commands == [
        "pywrangler deploy --dry-run --outdir dist/index --env ''",
        "pywrangler deploy --dry-run --outdir dist/purge --env purge",
        "pywrangler deploy --dry-run --outdir dist/glean --env glean",
    ]
    assert {cwd for _, cwd in pywrangler.calls} == {project}


def test_members_are_sorted_with_fixed_times_modes_and_owners(project: Path) -> None:
    bundle = bundle_worker(project, "index", FakePywrangler())
    infos = members(bundle.archive)
    names = [info.name for info in infos]
    assert names == sorted(names)
    assert names == [
        "flaresuite-bundle.json",
        "index_worker.py",
        "purge_worker.py",
        "python_modules/jinja2/__init__.py",
        "python_modules/pyvenv.cfg",
    ]
    assert bundle.files == 5
    for info in infos:
        assert (info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname) == (
            0,
            0o644,
            0,
            0,
            "",
            "",
        )
        assert info.isfile()


def test_the_archive_holds_exactly_what_pywrangler_wrote_except_its_readme(project: Path) -> None:
    bundle = bundle_worker(project, "index", FakePywrangler())
    with tarfile.open(bundle.archive) as tar:
        entry = tar.extractfile("index_worker.py")
        assert entry is not None and entry.read() == b"# index entry\n"
        assert "README.md" not in tar.getnames()


def manifest(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("flaresuite-bundle.json")
        assert member is not None
        return json.loads(member.read())


def test_the_manifest_names_the_top_level_worker_and_its_settings(project: Path) -> None:
    bundle = bundle_worker(project, "index", FakePywrangler())
    assert manifest(bundle.archive) == {
        "worker": "index",
        "script_name": "demo-index",
        "main_module": "index_worker.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
    }


def test_an_environment_inherits_main_and_settings_and_gets_wranglers_default_name(
    project: Path,
) -> None:
    purge = manifest(bundle_worker(project, "purge", FakePywrangler()).archive)
    glean = manifest(bundle_worker(project, "glean", FakePywrangler()).archive)
    assert (purge["script_name"], purge["main_module"]) == ("demo-purge", "purge_worker.py")
    assert (glean["script_name"], glean["main_module"]) == ("demo-index-glean", "index_worker.py")
    assert glean["compatibility_flags"] == ["python_workers"]


def test_two_workers_of_one_project_get_different_archives(project: Path) -> None:
    # wrangler attaches the same modules for both; the manifest tells them apart.
    index = bundle_worker(project, "index", FakePywrangler())
    purge = bundle_worker(project, "purge", FakePywrangler())
    assert index.fingerprint.sha256 != purge.fingerprint.sha256


def test_a_file_in_the_way_of_the_manifest_is_refused(project: Path) -> None:
    with pytest.raises(
        ReleaseSetupError, match=r"flaresuite-bundle\.json exists: the name is reserved"
    ):
        bundle_worker(project, "index", FakePywrangler(extra={"flaresuite-bundle.json": b"{}"}))


def test_the_gzip_header_records_no_time_or_name(project: Path) -> None:
    data = bundle_worker(project, "index", FakePywrangler()).archive.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08"
    flags, mtime = data[3], data[4:8]
    assert flags & 0x08 == 0  # FNAME
    assert mtime == b"\0\0\0\0"


def test_the_sha256_is_recorded_in_sha256sum_format(project: Path) -> None:
    bundle = bundle_worker(project, "index", FakePywrangler())
    record = (project / "dist" / "index.tar.gz.sha256").read_text()
    assert record == f"{bundle.fingerprint.sha256}  index.tar.gz\n"
    assert bundle.archive == project / "dist" / "index.tar.gz"


def test_files_left_by_an_earlier_build_are_not_packed(project: Path) -> None:
    bundle_worker(project, "index", FakePywrangler(extra={"stale.py": b"old"}))
    bundle = bundle_worker(project, "index", FakePywrangler())
    assert "stale.py" not in [info.name for info in members(bundle.archive)]


def test_a_missing_wrangler_toml_is_reported_before_running_anything(project: Path) -> None:
    (project / "wrangler.toml").unlink()
    pywrangler = FakePywrangler()
    with pytest.raises(ReleaseSetupError, match=r"wrangler\.toml not found in project root"):
        bundle_worker(project, "index", pywrangler)
    assert pywrangler.calls == []


def test_an_unparsable_wrangler_toml_is_reported(project: Path) -> None:
    (project / "wrangler.toml").write_text("name = \n")
    with pytest.raises(ReleaseSetupError, match=r"wrangler\.toml is not valid TOML"):
        bundle_worker(project, "index", FakePywrangler())


def test_the_tools_own_stderr_is_the_message_without_colour_codes(project: Path) -> None:
    stderr = (
        "\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m "
        "\x1b[1mProcessing wrangler.toml configuration:\x1b[0m\n"
        '    - No environment found in configuration with name "purge".\n'
    )
    with pytest.raises(ReleaseError) as raised:
        bundle_worker(project, "purge", FakePywrangler(returncode=1, stderr=stderr))
    message = str(raised.value)
    assert "failed with exit status 1" in message
    assert "✘ [ERROR] Processing wrangler.toml configuration:" in message
    assert 'No environment found in configuration with name "purge".' in message
    assert "\x1b" not in message


def test_a_failure_with_nothing_on_stderr_shows_stdout(project: Path) -> None:
    with pytest.raises(ReleaseError, match="Vendored Modules too large"):
        bundle_worker(
            project, "index", FakePywrangler(returncode=1, stdout="Vendored Modules too large\n")
        )


def test_a_zero_exit_without_the_entry_module_is_bundle_not_created(project: Path) -> None:
    with pytest.raises(ReleaseError, match=r"^Bundle not created at dist/purge/purge_worker\.py"):
        bundle_worker(project, "purge", FakePywrangler(writes=False))


def test_a_failed_build_leaves_no_archive_from_an_earlier_one(project: Path) -> None:
    bundle_worker(project, "index", FakePywrangler())
    with pytest.raises(ReleaseError):
        bundle_worker(project, "index", FakePywrangler(returncode=1, stderr="boom"))
    assert not (project / "dist" / "index.tar.gz").exists()
    assert not (project / "dist" / "index.tar.gz.sha256").exists()


def test_an_unknown_worker_names_the_ones_that_exist(project: Path) -> None:
    pywrangler = FakePywrangler()
    with pytest.raises(ReleaseSetupError, match=r"unknown Worker 'swarm'.*index, glean, purge"):
        bundle_worker(project, "swarm", pywrangler)
    assert pywrangler.calls == []


@pytest.mark.parametrize("worker", ["../etc", "", "a/b", ".hidden"])
def test_a_worker_name_cannot_escape_dist(project: Path, worker: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid Worker name"):
        bundle_worker(project, worker, FakePywrangler())


def test_a_worker_without_a_main_module_is_reported(project: Path) -> None:
    (project / "wrangler.toml").write_text('name = "x"\n[env.purge]\nname = "y"\n')
    with pytest.raises(ReleaseSetupError, match="names no `main` module for Worker 'purge'"):
        bundle_worker(project, "purge", FakePywrangler())


def test_a_bundle_over_10_mb_is_refused_and_not_written(project: Path) -> None:
    incompressible = hashlib.shake_256(b"seed").digest(MAX_BUNDLE_BYTES + 1)
    with pytest.raises(ReleaseSetupError, match="over Cloudflare's Worker size limit of 10 MB"):
        bundle_worker(project, "index", FakePywrangler(extra={"big.bin": incompressible}))
    assert not (project / "dist" / "index.tar.gz").exists()


def test_read_bundle_returns_what_bundle_wrote(project: Path) -> None:
    bundle = bundle_worker(project, "index", FakePywrangler())
    archive, data, identity = read_bundle(project, "index")
    assert (archive, identity) == (bundle.archive, bundle.fingerprint)
    assert data == bundle.archive.read_bytes()


def test_read_bundle_before_bundling_says_what_to_run(project: Path) -> None:
    with pytest.raises(ReleaseSetupError, match="run `flaresuite release bundle index` first"):
        read_bundle(project, "index")


def test_an_unreadable_wrangler_toml_is_reported(project: Path) -> None:
    (project / "wrangler.toml").unlink()
    (project / "wrangler.toml").mkdir()
    with pytest.raises(ReleaseSetupError, match=r"cannot read .*wrangler\.toml: .*Is a directory"):
        bundle_worker(project, "index", FakePywrangler())


def test_read_bundle_refuses_a_checksum_record_that_is_not_text(project: Path) -> None:
    bundle_worker(project, "index", FakePywrangler())
    (project / "dist" / "index.tar.gz.sha256").write_bytes(b"\xff\xfe  index.tar.gz\n")
    with pytest.raises(ReleaseSetupError, match="changed since it was bundled"):
        read_bundle(project, "index")


def test_read_bundle_reports_an_archive_it_cannot_read(project: Path) -> None:
    (project / "dist" / "index.tar.gz").mkdir(parents=True)
    with pytest.raises(
        ReleaseError, match=r"cannot read the bundle dist/index.tar.gz .*Is a directory.*again"
    ):
        read_bundle(project, "index")


def test_read_bundle_refuses_an_archive_changed_after_bundling(project: Path) -> None:
    bundle = bundle_worker(project, "index", FakePywrangler())
    with tarfile.open(bundle.archive, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("other.py"), io.BytesIO(b""))
    with pytest.raises(ReleaseSetupError, match="changed since it was bundled"):
        read_bundle(project, "index")
