"""edgehelpers.webserve: a loopback server whose pages are cross-origin isolated (or not, on request)."""

from __future__ import annotations

import urllib.error
from email.message import Message
import urllib.request

import pytest

from edgehelpers.webserve import ISOLATION_HEADERS, serve


def _get(url: str) -> tuple[int, Message, bytes]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 (a loopback URL this test made)
        return reply.status, reply.headers, reply.read()  # headers: names in any case


@pytest.fixture
def page(tmp_path):
    (tmp_path / "index.html").write_text("<p>hi</p>", encoding="utf-8")
    (tmp_path / "ort.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "app.mjs").write_text("export const a = 1;", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_isolated_pages_get_the_headers_and_wasm_its_type(page):
    with serve(page) as url:
        assert url.startswith("http://127.0.0.1:")  # loopback only
        status, headers, body = _get(url + "ort.wasm")
        assert status == 200 and body == b"\0asm\1\0\0\0" and headers["Content-Type"] == "application/wasm"
        assert all(headers[k] == v for k, v in ISOLATION_HEADERS.items())
        assert _get(url + "app.mjs")[1]["Content-Type"] == "text/javascript"
        assert _get(url)[2] == b"<p>hi</p>"  # index.html
        assert _get(url + "index.html")[1]["Cache-Control"] == "no-store"


def test_without_isolation_the_headers_are_absent(page):
    with serve(page, isolated=False) as url:
        headers = _get(url + "index.html")[1]
        assert all(headers.get(k) is None for k in ISOLATION_HEADERS)


def test_missing_files_and_folders_are_404s_and_the_server_stops(page):
    with serve(page) as url:
        for path in ("missing.onnx", "sub/"):
            with pytest.raises(urllib.error.HTTPError) as err:
                _get(url + path)
            assert err.value.code == 404
    with pytest.raises(urllib.error.URLError):
        _get(url + "index.html")  # stopped when the block ended


def test_a_missing_folder_says_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the page"), serve(tmp_path / "nope"):
        pass


def test_the_command_line_refuses_a_missing_folder(tmp_path, capsys):
    from tools import serve_web

    assert serve_web.main([str(tmp_path / "nope")]) == 2
    assert "build the page" in capsys.readouterr().err
