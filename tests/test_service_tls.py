"""TLS for `regie serve` over real sockets: the certificate follows its files, and mTLS.

Certificates are made with the openssl command line (no extra Python dependency).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from test_service_server import running, wait_for, write_policies

from regie.service import ServiceOptions
from regie.service import server as server_module

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip


def make_cert(folder: Path, ca: str, name: str, serial: int, *, client: bool = False) -> tuple[Path, Path]:
    ext = folder / f"{name}.ext"
    usage = "clientAuth" if client else "serverAuth"
    ext.write_text(f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n", encoding="utf-8")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-set_serial", str(serial), "-out", f"{name}.crt", "-days", "2", "-extfile", ext.name,
        cwd=folder,
    )  # fmt: skip
    return folder / f"{name}.crt", folder / f"{name}.key"


def served_common_name(port: int, ca: Path) -> str:
    """The CN of the certificate a new connection gets."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    subject = dict(item[0] for item in cert["subject"])
    return str(subject["commonName"])


def rotate(src_cert: Path, src_key: Path, cert: Path, key: Path) -> None:
    """Replace the served pair the way the kubelet does: new files renamed into place."""
    for src, dst in ((src_key, key), (src_cert, cert)):
        tmp = dst.with_suffix(".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def test_a_rotated_certificate_is_served_on_new_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "TLS_CHECK_SECONDS", 0.1)
    make_ca(tmp_path, "ca")
    first_cert, first_key = make_cert(tmp_path, "ca", "regie-1", 1001)
    second_cert, second_key = make_cert(tmp_path, "ca", "regie-2", 1002)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    rotate(first_cert, first_key, cert, key)
    options = ServiceOptions(
        policies=[str(write_policies(tmp_path / "p"))],
        tls_cert=str(cert),
        tls_key=str(key),
        reload_interval=0,
    )
    with running(options) as r:
        assert r.base.startswith("https://")
        assert served_common_name(r.port, tmp_path / "ca.crt") == "regie-1"
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        assert httpx.get(f"{r.base}/healthz", verify=verify, timeout=5).json() == {"status": "ok"}

        rotate(second_cert, second_key, cert, key)
        assert wait_for(lambda: served_common_name(r.port, tmp_path / "ca.crt") == "regie-2")
        assert r.service.metrics.tls_reloads.value("success") == 1

        # a broken file keeps the current certificate serving, and says so
        cert.write_text("not a certificate\n", encoding="utf-8")
        assert wait_for(lambda: r.service.metrics.tls_reloads.value("failure") == 1)
        assert served_common_name(r.port, tmp_path / "ca.crt") == "regie-2"
        ready = httpx.get(f"{r.base}/readyz", verify=verify, timeout=5).json()
        assert "--tls-cert" in ready["tls"]


def test_mtls_requires_a_client_certificate_from_the_client_ca(tmp_path: Path) -> None:
    make_ca(tmp_path, "ca")
    make_ca(tmp_path, "clients")
    make_ca(tmp_path, "other")
    cert, key = make_cert(tmp_path, "ca", "regie", 2001)
    client_cert, client_key = make_cert(tmp_path, "clients", "kube-apiserver", 3001, client=True)
    stranger_cert, stranger_key = make_cert(tmp_path, "other", "stranger", 4001, client=True)
    options = ServiceOptions(
        policies=[str(write_policies(tmp_path / "p"))],
        tls_cert=str(cert),
        tls_key=str(key),
        client_ca=str(tmp_path / "clients.crt"),
        reload_interval=0,
    )

    def client(cert_file: Path | None, key_file: Path | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        if cert_file and key_file:
            ctx.load_cert_chain(str(cert_file), str(key_file))
        return ctx

    with running(options) as r:
        ok = httpx.get(f"{r.base}/healthz", verify=client(client_cert, client_key), timeout=5)
        assert ok.status_code == 200
        for ctx in (client(None, None), client(stranger_cert, stranger_key)):
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                httpx.get(f"{r.base}/healthz", verify=ctx, timeout=5)


def test_a_bad_certificate_path_is_an_error_naming_the_option(tmp_path: Path) -> None:
    from regie.service import ServeError, build_server

    options = ServiceOptions(
        policies=[str(write_policies(tmp_path / "p"))],
        tls_cert=str(tmp_path / "missing.crt"),
        tls_key=str(tmp_path / "missing.key"),
    )
    with pytest.raises(ServeError, match=r"--tls-cert .*missing\.crt"):
        build_server(options)
    with pytest.raises(ServeError, match="--tls-cert and --tls-key: give both"):
        build_server(ServiceOptions(policies=[], tls_cert="x"))
