"""``flaresuite index build``: the README's main job, and its answers to bad input."""

import contextlib
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest

from flaresuite_host.cli import main
from flaresuite_host.index import cli as index_cli
from flaresuite_host.index.demo import build_wheel
from flaresuite_host.progress import ProgressBar
from flaresuite_host.transport import httpx_fetch


def test_the_default_build_indexes_the_embedded_demo_in_place(tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["index", "build", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"ok: index in {out}/" in printed
    torch_page = (out / "whl/cpu/torch/index.html").read_text()
    assert "torch-2.6.0+cpu-py3-none-any.whl" in torch_page and "#sha256=" in torch_page
    assert (
        (out / "whl/cpu/torch-2.6.0+cpu-py3-none-any.whl.metadata")
        .read_bytes()
        .startswith(b"Metadata-Version")
    )
    nightly = (out / "whl/nightly/index.html").read_text()
    assert "torch" in nightly and "not-on-the-allow-list" not in nightly
    assert (
        "libtorch-shared-with-deps-latest.zip"
        in (out / "libtorch/nightly/cpu/index.html").read_text()
    )


def test_a_second_build_rewrites_nothing(tmp_path, capsys):
    out = tmp_path / "site"
    main(["index", "build", "--out", str(out), "--json"])
    capsys.readouterr()
    main(["index", "build", "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert sum(p["pages_written"] for p in report["prefixes"]) == 0
    assert report["status"] == "ok"


def test_verbose_streams_json_logs_on_stderr_and_keeps_stdout_for_the_report(tmp_path, capsys):
    assert main(["index", "build", "--out", str(tmp_path / "site"), "--json", "--verbose"]) == 0
    printed = capsys.readouterr()
    events = [json.loads(line)["event"] for line in printed.err.splitlines()]
    assert events.count("index.prefix") == 9 and events[-1] == "index.run"
    assert json.loads(printed.out)["status"] == "ok"


def test_a_directory_of_wheels_is_indexed_with_metadata_from_the_wheels(tmp_path, capsys):
    wheel = tmp_path / "whl" / "cu126" / "demo_pkg-1.0+cu126-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(build_wheel("demo_pkg", "1.0+cu126", requires_python=">=3.10"))
    out = tmp_path / "pages"
    assert (
        main(["index", "build", "--source", str(tmp_path), "--out", str(out), "--prefix", "whl"])
        == 0
    )
    page = (out / "whl/cu126/demo-pkg/index.html").read_text()
    assert 'data-requires-python="&gt;=3.10"' in page and "data-core-metadata" in page
    assert (out / "whl/cu126/demo_pkg-1.0+cu126-py3-none-any.whl.metadata").exists()
    assert not (tmp_path / "whl/cu126/demo_pkg-1.0+cu126-py3-none-any.whl.metadata").exists()


def test_a_wheel_rebuilt_under_the_same_name_gets_a_fresh_sidecar(tmp_path, capsys):
    wheel = tmp_path / "whl" / "demo_pkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(build_wheel("demo_pkg", "1.0", requires_python=">=3.8"))
    assert main(["index", "build", "--source", str(tmp_path), "--prefix", "whl"]) == 0
    wheel.write_bytes(build_wheel("demo_pkg", "1.0", requires_python=">=3.10"))
    assert main(["index", "build", "--source", str(tmp_path), "--prefix", "whl"]) == 0
    sidecar = tmp_path / "whl" / "demo_pkg-1.0-py3-none-any.whl.metadata"
    assert b"Requires-Python: >=3.10" in sidecar.read_bytes()
    page = (tmp_path / "whl/demo-pkg/index.html").read_text()
    assert 'data-requires-python="&gt;=3.10"' in page
    assert f"sha256={hashlib.sha256(sidecar.read_bytes()).hexdigest()}" in page


def test_a_missing_source_directory_exits_2(tmp_path, capsys):
    assert main(["index", "build", "--source", str(tmp_path / "nope")]) == 2
    assert "source directory not found" in capsys.readouterr().err


def test_an_unreadable_wheel_exits_2_and_writes_no_page(tmp_path, capsys):
    bad = tmp_path / "whl" / "cpu" / "broken-1.0-py3-none-any.whl"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"this is not a zip file")
    assert main(["index", "build", "--source", str(tmp_path)]) == 2
    assert "unreadable wheel: broken-1.0-py3-none-any.whl" in capsys.readouterr().err
    assert not (tmp_path / "whl" / "cpu" / "index.html").exists()


def test_a_wheel_without_metadata_exits_2(tmp_path, capsys):
    bad = tmp_path / "whl" / "hollow-1.0-py3-none-any.whl"
    bad.parent.mkdir(parents=True)
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("hollow/__init__.py", "")
    assert main(["index", "build", "--source", str(tmp_path)]) == 2
    assert "expected one .dist-info/METADATA" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--nightly-keep", "0"], "must be at least 1"),
        (["--nightly-keep", "many"], "not a whole number"),
        (["--frobnicate"], "unrecognized arguments"),
        (["--source", "x", "--s3-bucket", "y"], "not allowed with argument"),
        (["--prefix", ""], "not a prefix: ''"),
        (["--prefix", "whl/../.."], "not a prefix: 'whl/../..'"),
        (["--s3-bucket", "b", "--s3-endpoint", "ftp://x"], "must be an http:// or https:// URL"),
        (["--base-url", "https://u:p@x"], "not a base URL for files"),
    ],
)
def test_bad_flags_exit_2_with_a_message(flags, message, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["index", "build", *flags])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_prefixes_are_read_like_the_workers_with_slashes_trimmed(tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["index", "build", "--out", str(out), "--prefix", "/whl/cpu/", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [p["prefix"] for p in report["prefixes"]] == ["whl/cpu"]
    assert (out / "whl/cpu/torch/index.html").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--s3-endpoint", "http://127.0.0.1:9"], "--s3-endpoint and --s3-region need --s3-bucket"),
        (["--s3-region", "eu-west-1"], "--s3-endpoint and --s3-region need --s3-bucket"),
        (["--out", "{file}"], "output directory is a file: {file}"),
    ],
)
def test_inconsistent_flags_exit_2_and_write_nothing(flags, message, tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("keep me")
    flags = [flag.format(file=file) for flag in flags]
    assert main(["index", "build", *flags]) == 2
    assert message.format(file=file) in capsys.readouterr().err
    assert file.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [file]


@pytest.mark.parametrize("out_exists", [False, True])
def test_contradictory_allow_list_flags_exit_2_before_the_demo_is_written(
    out_exists, tmp_path, capsys
):
    out = tmp_path / "site"
    if out_exists:
        out.mkdir()
    flags = ["--out", str(out), "--no-allow-list", "--allow-list-prefix", "whl"]
    assert main(["index", "build", *flags]) == 2
    assert "contradict each other" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == ([out] if out_exists else [])
    assert not out_exists or not any(out.iterdir())


def test_half_set_s3_credentials_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("S3_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.delenv("S3_SECRET_ACCESS_KEY", raising=False)
    assert main(["index", "build", "--s3-bucket", "pytorch"]) == 2
    assert (
        "set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither" in capsys.readouterr().err
    )


def test_the_command_line_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "flaresuite_host", "index", "build", "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ok: index in" in done.stdout


@pytest.mark.moto
def test_an_s3_bucket_is_indexed_into_a_local_directory(moto_s3, monkeypatch, tmp_path, capsys):
    bucket = moto_s3.new_bucket("cli")
    wheel = build_wheel("demo_pkg", "1.0", requires_python=">=3.9")
    moto_s3.boto.put_object(
        Bucket=bucket,
        Key="whl/cpu/demo_pkg-1.0-py3-none-any.whl",
        Body=wheel,
        ChecksumAlgorithm="SHA256",
    )
    monkeypatch.setenv("S3_ACCESS_KEY_ID", moto_s3.credentials.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", moto_s3.credentials.secret_access_key)
    out = tmp_path / "pages"
    assert (
        main(
            [
                "index",
                "build",
                "--s3-bucket",
                bucket,
                "--s3-endpoint",
                moto_s3.endpoint,
                "--out",
                str(out),
                "--prefix",
                "whl",
                "--no-allow-list",
            ]
        )
        == 0
    )
    page = (out / "whl/cpu/demo-pkg/index.html").read_text()
    assert f"#sha256={hashlib.sha256(wheel).hexdigest()}" in page
    printed = capsys.readouterr().out
    assert f"ok: index in {out}/" in printed
    # the pages link /whl/cpu/…, which this directory does not hold: no "Serve it with"
    assert "Serve it with" not in printed and "--base-url" in printed


@pytest.mark.moto
def test_the_cli_assumes_an_iam_role_like_the_worker(moto_s3, monkeypatch, tmp_path):
    """The key is a user's allowed nothing but ``sts:AssumeRole`` (moto enforces it): one
    AssumeRole call, then every S3 request carries the role's session token, never the key."""
    bucket = moto_s3.new_bucket("cli-role")
    moto_s3.boto.put_object(
        Bucket=bucket,
        Key="whl/cpu/demo_pkg-1.0-py3-none-any.whl",
        Body=build_wheel("demo_pkg", "1.0"),
        ChecksumAlgorithm="SHA256",
    )
    base = moto_s3.index_credentials
    monkeypatch.setenv("S3_ACCESS_KEY_ID", base.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", base.secret_access_key)
    monkeypatch.setenv("AWS_ROLE_ARN", moto_s3.index_role(bucket))
    monkeypatch.setenv("STS_ENDPOINT_URL", moto_s3.endpoint)
    seen = []

    @contextlib.asynccontextmanager
    async def recording_fetch():
        async with httpx_fetch() as fetch:

            async def recorded(request):
                seen.append(request)
                return await fetch(request)

            yield recorded

    monkeypatch.setattr(index_cli, "httpx_fetch", recording_fetch)
    out = tmp_path / "pages"
    arguments = ["index", "build", "--s3-bucket", bucket, "--s3-endpoint", moto_s3.endpoint]
    arguments += ["--out", str(out), "--prefix", "whl", "--no-allow-list"]

    assert main(arguments) == 0
    assert (out / "whl/cpu/demo-pkg/index.html").exists()
    assumed = [r for r in seen if r.method == "POST" and b"Action=AssumeRole" in r.body]
    s3 = [r for r in seen if r not in assumed]
    assert len(assumed) == 1 and len(s3) >= 3  # two listings and a HEAD at least
    assert all("x-amz-security-token" in r.headers for r in s3)
    assert not any(base.access_key_id in r.headers["authorization"] for r in s3)


@pytest.mark.moto
def test_a_role_without_a_key_to_assume_it_is_a_usage_error(moto_s3, monkeypatch, capsys):
    monkeypatch.delenv("S3_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("S3_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_ROLE_ARN", moto_s3.role_arn)

    assert main(["index", "build", "--s3-bucket", "pytorch"]) == 2
    assert "AWS_ROLE_ARN" in capsys.readouterr().err


@pytest.mark.moto
def test_an_unreachable_bucket_fails_with_exit_1_and_the_reason(
    moto_s3, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("S3_ACCESS_KEY_ID", moto_s3.credentials.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "wrong-secret")
    assert (
        main(
            [
                "index",
                "build",
                "--s3-bucket",
                "anything",
                "--s3-endpoint",
                moto_s3.endpoint,
                "--out",
                str(tmp_path / "o"),
                "--prefix",
                "whl",
            ]
        )
        == 1
    )
    printed = capsys.readouterr()
    assert "SignatureDoesNotMatch" in printed.out
    assert "Serve it with" not in printed.out and "nothing to index" not in printed.err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_only_on_a_terminal():
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream)
        bar("whl: metadata", 5, 10)
        bar("whl: listing", 3000, None)
        bar.close()
    assert "whl: metadata [###############...............] 5/10" in terminal.getvalue()
    assert "whl: listing 3000" in terminal.getvalue()
    assert pipe.getvalue() == ""


def wheel_file(directory, name, version, requires_python=">=3.8"):
    path = directory / f"{name}-{version}-py3-none-any.whl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_wheel(name, version, requires_python=requires_python))
    return path


def test_a_plain_directory_of_wheels_is_indexed_as_one_index_root(tmp_path, capsys):
    """Item 14: wheels directly in DIR, the way pip --find-links users keep them."""
    wheels = tmp_path / "wheels"
    wheel_file(wheels, "mypkg", "1.0")
    wheel_file(wheels, "mypkg", "1.1")
    wheel_file(wheels, "other_pkg", "0.1")
    (wheels / "notes.txt").write_text("not a distribution")
    assert main(["index", "build", "--source", str(wheels)]) == 0
    printed = capsys.readouterr().out
    assert "Serve it with" in printed and f"flaresuite index serve {wheels}" in printed
    listing = (wheels / "index.html").read_text()
    assert 'href="mypkg/"' in listing and 'href="other-pkg/"' in listing
    page = (wheels / "mypkg/index.html").read_text()
    assert 'href="/mypkg-1.0-py3-none-any.whl#sha256=' in page
    assert 'data-requires-python="&gt;=3.8"' in page
    assert not (wheels / ".flaresuite-state" / "index.html").exists()


def test_a_directory_with_no_distribution_exits_1_and_says_why(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README").write_text("nothing here")
    assert main(["index", "build", "--source", str(empty)]) == 1
    printed = capsys.readouterr()
    assert "nothing to index: no distribution" in printed.err
    lines = printed.out.splitlines()
    assert [line.split()[:3] for line in lines[:-1]] == [[".", "empty", "0"]]
    assert lines[-1].startswith(f"empty: nothing indexed, no page written in {empty}/ (")
    assert not any(line.startswith("ok") for line in lines)
    assert "Serve it with" not in printed.out
    assert not (empty / "index.html").exists()


def test_a_build_whose_every_file_the_allow_list_hides_says_so(tmp_path, capsys):
    wheel_file(tmp_path / "src" / "whl", "mine", "1.0")
    flags = ["--source", str(tmp_path / "src"), "--allow-list-prefix", "whl", "--prefix", "whl"]
    assert main(["index", "build", *flags]) == 1
    assert "hidden by the allow list (pass --no-allow-list" in capsys.readouterr().err


def test_with_out_elsewhere_the_files_are_linked_so_the_output_is_servable(tmp_path, capsys):
    """Item 15: pages link /<key>; the output directory must hold those keys."""
    source = tmp_path / "src"
    wheel = wheel_file(source / "whl" / "cpu", "mine", "1.0")
    out = tmp_path / "out"
    assert main(["index", "build", "--source", str(source), "--out", str(out)]) == 0
    linked = out / "whl/cpu/mine-1.0-py3-none-any.whl"
    assert linked.read_bytes() == wheel.read_bytes()
    assert (out / "whl/cpu/mine-1.0-py3-none-any.whl.metadata").exists()
    assert not (source / "whl/cpu/index.html").exists()
    assert "flaresuite index serve" in capsys.readouterr().out


def test_with_a_base_url_nothing_is_linked_and_links_point_there(tmp_path, capsys):
    source = tmp_path / "src"
    wheel_file(source, "mine", "1.0")
    out = tmp_path / "out"
    flags = ["--source", str(source), "--out", str(out), "--base-url", "https://files.example/"]
    assert main(["index", "build", *flags]) == 0
    assert not (out / "mine-1.0-py3-none-any.whl").exists()
    page = (out / "mine/index.html").read_text()
    assert 'href="https://files.example/mine-1.0-py3-none-any.whl#sha256=' in page


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--base-url", "ftp://files"], "not a base URL for files"),
        (["--allow-list-prefix", "whl", "--no-allow-list"], "contradict each other"),
    ],
)
def test_bad_build_flags_exit_2(flags, message, tmp_path, capsys):
    try:
        code = main(["index", "build", "--out", str(tmp_path / "o"), *flags])
    except SystemExit as exit:
        code = exit.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_serving_an_empty_directory_exits_2(tmp_path, capsys):
    assert main(["index", "serve", str(tmp_path)]) == 2
    assert "no built index" in capsys.readouterr().err
