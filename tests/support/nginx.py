"""nginx from the distribution in front of the replicas, with the shipped deploy/nginx.conf
rendered by deploy/render-nginx, exactly as README tells operators: its own prefix, main
configuration, pid file, free ports and a self-signed certificate in a temporary folder."""

from __future__ import annotations

import datetime
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.auth_process import REPO_ROOT
from tests.support.ports import free_port
from tests.support.processes import end

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(
    NGINX is None or shutil.which("envsubst") is None,
    reason="nginx or envsubst is not installed (apt-get install -y nginx gettext-base; "
    ".ci/run does): this test puts deploy/nginx.conf in front of the replicas",
)

AUTH_DOMAIN = "auth.replicas.test"
ADMIN_DOMAIN = "admin.replicas.test"

# The parts of Debian's /etc/nginx/nginx.conf the site file needs, with every path moved
# into the prefix (the compiled-in temp paths are the system's).
MAIN_CONF = """\
user {user};
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/site.conf;
}}
"""


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for both test domains and its key, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, AUTH_DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(AUTH_DOMAIN), x509.DNSName(ADMIN_DOMAIN)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Loopback(httpx.BaseTransport):
    """Connects to 127.0.0.1 whatever the URL's host; SNI and Host name the domain, and
    cookies stay the domain's. TLS unverified: the certificate is the test's own."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport(verify=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        loopback = httpx.Request(
            request.method,
            request.url.copy_with(host="127.0.0.1"),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return self.inner.handle_request(loopback)

    def close(self) -> None:
        self.inner.close()


class NginxProcess:
    """nginx on free loopback ports in front of two auth and two SaaS Admin replicas."""

    def __init__(self, folder: Path, auth: list[str], saas: list[str], static_root: Path) -> None:
        self.prefix = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port, self.internal_port = (free_port() for _ in range(3))
        cert, key = self_signed(folder)
        self.placeholders = {
            "AUTH_DOMAIN": AUTH_DOMAIN,
            "ADMIN_DOMAIN": ADMIN_DOMAIN,
            "HTTP_PORT": f"127.0.0.1:{self.http_port}",
            "HTTPS_PORT": str(self.https_port),
            "AUTH_REPLICA_1": auth[0],
            "AUTH_REPLICA_2": auth[1],
            "SAAS_REPLICA_1": saas[0],
            "SAAS_REPLICA_2": saas[1],
            "INTERNAL_LISTEN": f"127.0.0.1:{self.internal_port}",
            "INTERNAL_NETWORK": "127.0.0.0/8",
            "AUTH_TLS_CERT": str(cert),
            "AUTH_TLS_KEY": str(key),
            "ADMIN_TLS_CERT": str(cert),
            "ADMIN_TLS_KEY": str(key),
            "STATIC_ROOT": str(static_root),
        }
        self.internal_url = f"http://127.0.0.1:{self.internal_port}"
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, domain: str) -> str:
        """The public HTTPS address of a domain (connect to 127.0.0.1, send the Host)."""
        return f"https://{domain}:{self.https_port}"

    def client(self, domain: str, **kwargs: Any) -> httpx.Client:
        """A client of https://<domain>:<port>, connected to this nginx (see _Loopback)."""
        return httpx.Client(base_url=self.url(domain), transport=_Loopback(), **kwargs)

    def start(self) -> NginxProcess:
        render = subprocess.run(
            [str(REPO_ROOT / "deploy" / "render-nginx")],
            env={**os.environ, **self.placeholders},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        (self.prefix / "site.conf").write_text(render.stdout)
        user = pwd.getpwuid(os.geteuid()).pw_name
        main = self.prefix / "nginx.conf"
        main.write_text(MAIN_CONF.format(user=user, prefix=self.prefix))
        command = [str(NGINX), "-p", str(self.prefix), "-c", str(main)]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, f"deploy/nginx.conf does not load:\n{check.stderr}"
        log = (self.prefix / "stderr.log").open("ab")
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.log()}")
            try:
                httpx.get(f"{self.internal_url}/health", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start:\n{self.log()}")

    def stop(self) -> None:
        end(self._process)  # SIGTERM: a fast shutdown of this master and its workers
        self._process = None

    def log(self) -> str:
        parts = [self.prefix / "error.log", self.prefix / "stderr.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())
