"""Which pages are someone else's: a page holds external links when one of its links names a
host that does not serve this bucket's files (issue 10 item 3, test-infra#8115)."""

import pytest

from flaresuite.index.foreign import DEFAULT_FILE_HOSTS, FileHosts, parse_host

PYTORCH = FileHosts.of("", DEFAULT_FILE_HOSTS)


def page(*hrefs: str) -> bytes:
    return "\n".join(f'<a href="{href}">x</a><br/>' for href in hrefs).encode()


@pytest.mark.parametrize(
    "href",
    [
        "/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl",
        "torch-2.5.1-cp311-cp311-linux_x86_64.whl",
        "https://download-r2.pytorch.org/whl/nightly/cu126/torch-2.7.0.dev20250101.whl",
        "https://download.pytorch.org/whl/cpu/torch-2.5.1%2Bcpu-cp311-cp311-linux_x86_64.whl",
        "https://d21usjoq99fcb9.cloudfront.net/whl/filelock-3.16.1-py3-none-any.whl",
        "HTTPS://Download.PyTorch.org:443/whl/torch-2.5.1.whl",
        "//download-r2.pytorch.org/whl/torch-2.5.1.whl",
        "https://download.pytorch.org./whl/torch-2.5.1.whl",
    ],
)
def test_links_to_this_bucket_are_not_external(href):
    assert not PYTORCH.holds_external_links(page(href))


@pytest.mark.parametrize(
    "href",
    [
        "https://files.pythonhosted.org/packages/9f/fd/nvidia_cudnn_cu12-9.1.0.70.whl",
        "https://pypi.nvidia.com/nvidia-nccl-cu12/nvidia_nccl_cu12-2.21.5.whl",
        "//files.pythonhosted.org/packages/x.whl",
        "https://download.pytorch.org.evil.example/whl/torch.whl",
        "https://download.pytorch.org@evil.example/whl/torch.whl",
        "http://[::1]/whl/torch.whl",
    ],
)
def test_links_to_any_other_host_are_external(href):
    assert PYTORCH.holds_external_links(page(href))


def test_one_external_link_among_our_own_makes_the_page_someone_elses():
    mixed = page("/whl/torch-2.5.1.whl", "https://pypi.nvidia.com/x.whl")
    assert PYTORCH.holds_external_links(mixed)
    assert not PYTORCH.holds_external_links(page("/whl/torch-2.5.1.whl"))


def test_the_file_base_urls_host_is_always_ours_and_file_hosts_can_be_none():
    base_only = FileHosts.of("https://files.example.org/mirror", ())
    assert not base_only.holds_external_links(page("https://files.example.org/whl/x.whl"))
    assert base_only.holds_external_links(page("https://download-r2.pytorch.org/whl/x.whl"))
    assert FileHosts.of("", ()).holds_external_links(page("https://download.pytorch.org/x"))
    assert base_only.signature != PYTORCH.signature
    assert PYTORCH.signature == FileHosts.of("", reversed(DEFAULT_FILE_HOSTS)).signature


@pytest.mark.parametrize("text", ["https://download.pytorch.org", "host:8080", "", "a b", "a/b"])
def test_file_hosts_are_host_names_only(text):
    with pytest.raises(ValueError, match="not a host name"):
        parse_host(text)


def test_file_hosts_are_compared_in_lower_case():
    assert parse_host(" Download.PyTorch.org. ") == "download.pytorch.org"
