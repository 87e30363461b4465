"""Submit a checkpoint to a witness and get its cosignature (the log's side of tlog-witness)."""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from urllib.parse import urlsplit

from edgeaudit.errors import NoteError, VerificationError
from edgeaudit.note.verifier import CosignatureVerifier, parse_note, verify_note
from edgeaudit.witness.protocol import SIZE_CONTENT_TYPE, format_add_checkpoint


class WitnessRefused(VerificationError):
    """The witness answered with a refusal (``status``)."""

    def __init__(self, url: str, status: int, message: str) -> None:
        super().__init__(f"witness {url} refused the checkpoint ({status}): {message}")
        self.status = status


class WitnessConflict(WitnessRefused):
    """409: the witness's latest cosigned size for the log is ``latest_size``."""

    def __init__(self, url: str, latest_size: int) -> None:
        super().__init__(url, 409, f"it last cosigned size {latest_size}")
        self.latest_size = latest_size


class WitnessClient:
    """One keep-alive connection to a witness at ``url`` (its submission prefix)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"witness URL must be http(s)://host[:port][/prefix], got {url!r}")
        self.url = url
        self._path = parts.path.rstrip("/") + "/add-checkpoint"
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._conn = cls(parts.hostname, parts.port, timeout=timeout)

    def add_checkpoint(
        self,
        note: bytes,
        old_size: int,
        proof: Sequence[bytes],
        witness_key: CosignatureVerifier | None = None,
    ) -> list[str]:
        """The witness's signature lines (each ending in a newline) for the signed ``note``.

        With ``witness_key``, only lines that verify with that key over ``note`` are returned,
        and none is an error. Raises :class:`WitnessConflict` on 409 and
        :class:`WitnessRefused` on any other refusal.
        """
        body = format_add_checkpoint(old_size, tuple(proof), note)
        try:
            self._conn.request(
                "POST", self._path, body, {"Content-Type": "text/plain; charset=utf-8"}
            )
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            raise
        if response.status == 409 and response.getheader("Content-Type") == SIZE_CONTENT_TYPE:
            text = data.decode("ascii", "replace")
            if text.endswith("\n") and text[:-1].isdigit():
                raise WitnessConflict(self.url, int(text[:-1]))
        if response.status != 200:
            raise WitnessRefused(self.url, response.status, data.decode("utf-8", "replace")[:200])
        lines = _signature_lines(self.url, data)
        if witness_key is None:
            return lines
        body_text = parse_note(note).body
        kept = []
        for line in lines:
            try:
                verify_note(body_text + b"\n" + line.encode("utf-8"), [witness_key])
            except NoteError:
                continue  # another key's line, or not a valid cosignature: ignored
            kept.append(line)
        if not kept:
            raise WitnessRefused(self.url, 200, f"no valid cosignature from {witness_key.label}")
        return kept

    def close(self) -> None:
        self._conn.close()


def _signature_lines(url: str, data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefused(url, 200, "the answer is not UTF-8") from None
    if not text.endswith("\n") or not text.startswith("— "):
        raise WitnessRefused(url, 200, "the answer is not note signature lines")
    return [line + "\n" for line in text[:-1].split("\n")]


def add_checkpoint(
    url: str,
    note: bytes,
    old_size: int,
    proof: Sequence[bytes],
    witness_key: CosignatureVerifier | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """Submit ``note`` with a consistency proof from ``old_size``; the cosignature lines."""
    client = WitnessClient(url, timeout)
    try:
        return client.add_checkpoint(note, old_size, proof, witness_key)
    finally:
        client.close()
