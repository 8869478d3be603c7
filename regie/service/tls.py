"""TLS for the webhook: a server SSLContext that follows its certificate files.

cert-manager renews the serving certificate before it expires and the kubelet swaps
the mounted Secret's files in place; a webhook that read them once would serve an
expired certificate until restarted. :class:`ReloadingTLS` checks the files' mtimes
and loads a changed pair into the same SSLContext, so every new connection gets the
new certificate (connections already open keep theirs). A half-written pair (key and
certificate that do not match) is first tried on a scratch context and, if it fails,
the current pair keeps serving until the next check.

With ``client_ca`` the server requires a client certificate signed by that CA
(mTLS: the API server's ``--admission-control-config-file`` kubeconfig).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from pathlib import Path

__all__ = ["ReloadingTLS", "TLSError"]

log = logging.getLogger("regie.service.tls")


class TLSError(ValueError):
    """The certificate, key or CA could not be loaded; the message names the file."""


class ReloadingTLS:
    def __init__(
        self,
        cert: str,
        key: str,
        client_ca: str | None = None,
        *,
        on_reload: Callable[[bool], None] = lambda _: None,
    ) -> None:
        self.cert = cert
        self.key = key
        self.client_ca = client_ca
        self.on_reload = on_reload
        self.context = _new_context()
        self.problem: str | None = None
        self._load(self.context)
        self._stamp = self._mtimes()

    def check(self) -> bool:
        """Reload if a file changed; True when a new certificate is in force.

        Call it from the event loop's thread: handshakes run there, so the context is
        never changed under one.
        """
        stamp = self._mtimes()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self._load(_new_context())  # all three files valid and matching, or no change at all
            self._load(self.context)
        except TLSError as err:
            self.problem = str(err)
            log.error("TLS reload failed; the current certificate keeps serving", extra={"error": str(err)})
            self.on_reload(False)
            return False
        self.problem = None
        log.info("TLS certificate reloaded", extra={"cert": self.cert})
        self.on_reload(True)
        return True

    def _mtimes(self) -> tuple[int, ...]:
        out = []
        for f in (self.cert, self.key, self.client_ca):
            if f is None:
                continue
            try:
                out.append(Path(f).stat().st_mtime_ns)
            except OSError:
                out.append(-1)
        return tuple(out)

    def _load(self, ctx: ssl.SSLContext) -> None:
        try:
            ctx.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"--tls-cert {self.cert} / --tls-key {self.key}: cannot load: {err}") from None
        if self.client_ca:
            try:
                ctx.load_verify_locations(cafile=self.client_ca)
            except (OSError, ssl.SSLError) as err:
                raise TLSError(f"--client-ca {self.client_ca}: cannot load: {err}") from None
            ctx.verify_mode = ssl.CERT_REQUIRED


def _new_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
