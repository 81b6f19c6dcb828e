"""Certificates made here and Debian's nginx in front of a dev server: TLS as a real cluster has it.

nginx terminates TLS (HTTP/2, ``grpc_pass``) on loopback ports and answers in gRPC's own words what
it refuses, as a Temporal frontend or a cloud's gateway would: no client certificate (mTLS port),
no or a wrong API key (API-key port), and ``AddSearchAttributes`` everywhere (as Temporal Cloud).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.stack import free_port

SERVER_NAME = "temporal.bpo.test"
"""The only name on the proxy's certificate: connecting by 127.0.0.1 needs TEMPORAL_TLS_SERVER_NAME."""
API_KEY = "bpo-test-api-key"


def nginx_binary() -> str:
    """Debian's nginx, or a sentence saying how to get it."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)
    if not found:
        raise RuntimeError("nginx is not installed; `make test` installs Debian's nginx-light")
    return found


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(folder: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA: its PEM path, key and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digital_signature, key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def issue(
    folder: Path, ca: tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate], name: str, *, server: bool
) -> tuple[Path, Path]:
    """A leaf certificate signed by ``ca``: for a server (its one DNS name ``name``) or a client."""
    _, ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return cert_path, key_path


# gRPC's trailers-only answer from nginx itself (nginx's own recipe for gRPC error pages): a 204
# whose headers carry the status, so the client reads a gRPC error, not an HTTP one.
_GRPC_ERRORS = """
        location = /grpc-unauthenticated {{
            internal;
            default_type application/grpc;
            add_header grpc-status 16 always;
            add_header grpc-message "{why}" always;
            return 204;
        }}
        location = /temporal.api.operatorservice.v1.OperatorService/AddSearchAttributes {{
            default_type application/grpc;
            add_header grpc-status 7 always;
            add_header grpc-message "search attributes are managed by the account, not by clients" always;
            return 204;
        }}
"""


@dataclass
class Proxy:
    """The proxy's ports and the files a client needs."""

    mtls_port: int
    api_key_port: int
    ca: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_proxy(folder: Path, upstream_port: int) -> Proxy:
    """nginx on two loopback ports in front of the dev server at ``upstream_port``."""
    binary = nginx_binary()
    ca = make_ca(folder, "bpo-test-ca")
    stranger = make_ca(folder, "stranger-ca")
    server_cert, server_key = issue(folder, ca, SERVER_NAME, server=True)
    client_cert, client_key = issue(folder, ca, "bpo-worker", server=False)
    mtls_port, api_key_port = free_port(), free_port()
    tls = f"""
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        ssl_protocols TLSv1.2 TLSv1.3;"""
    conf = folder / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{mtls_port} ssl http2;
        {tls}
        ssl_client_certificate {ca[0]};
        ssl_verify_client on;
        error_page 495 496 = /grpc-unauthenticated;
        location / {{ grpc_pass grpc://127.0.0.1:{upstream_port}; }}
        {_GRPC_ERRORS.format(why="a client certificate signed by the cluster CA is required")}
    }}
    server {{
        listen 127.0.0.1:{api_key_port} ssl http2;
        {tls}
        error_page 401 = /grpc-unauthenticated;
        location / {{
            if ($http_authorization != "Bearer {API_KEY}") {{ return 401; }}
            grpc_pass grpc://127.0.0.1:{upstream_port};
        }}
        {_GRPC_ERRORS.format(why="a valid API key is required")}
    }}
}}
""")
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-e", str(folder / "nginx-error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    for _ in range(200):  # until both ports accept, or nginx has stopped
        if process.poll() is not None:
            raise RuntimeError(f"nginx stopped: {process.stderr.read().decode() if process.stderr else ''}")
        opened = 0
        for port in (mtls_port, api_key_port):
            with socket.socket() as probe:
                opened += probe.connect_ex(("127.0.0.1", port)) == 0
        if opened == 2:
            break
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("nginx never listened")
    return Proxy(mtls_port, api_key_port, ca[0], client_cert, client_key, stranger[0], process)
