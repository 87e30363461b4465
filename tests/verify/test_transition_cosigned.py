"""A key transition checkpoint cosigned by witnesses after its pack was built.

``edgeaudit checkpoint`` gathers cosignatures into ``witnessed/<size>.note``; an auditor may
put that copy in place of a pack's ``checkpoint``. Its bytes then differ from the note the
manifest lists, which the verifier allows for cosignature lines only: the signed text must be
just origin, size and root. A transition carries two extension lines, so the cosigned copy of
a pack built at the transition's size was refused. The rule now also accepts exactly one
transition signed by both keys it names (one of them a key of the chain), and still refuses
every other extension line (``pack_keys.cosigned_note_problem``).

The witness is a real ``edgeaudit witness serve`` on loopback; all keys are made here."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.cli.main import main
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Cosigner, generate, sign_transition
from edgeaudit.note.transition import transition_lines
from edgeaudit.note.verifier import Verifier, parse_note
from edgeaudit.verify.keychain import KeyChain
from edgeaudit.verify.pack_keys import cosigned_note_problem
from edgeaudit.verify.witnesses import parse_policy, policy_problem
from tests.witness.conftest import WitnessProcess, make_pod, start_witness, witness_config

ORIGIN = "edgeaudit.test/pod"
ROOT = bytes(range(32))


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    return code, out.getvalue()


def run_json(*argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) apart: a --json document is read from stdout alone (sys.stderr
    is process-wide while redirected, so another thread's log line may land in it)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--json", *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def witness_procs() -> Iterator[list[WitnessProcess]]:
    started: list[WitnessProcess] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(timeout=10)


# -- the rule, on notes made here -------------------------------------------------------------


def _checked(note: bytes, anchors: list[Verifier]) -> str | None:
    chain = KeyChain.from_notes(anchors, [note], ORIGIN)
    cp = chain.verify_checkpoint(note, ORIGIN)  # the caller has verified it so
    return cosigned_note_problem(note, cp, chain)


def _refused(note: bytes, anchors: list[Verifier]) -> str:
    why = _checked(note, anchors)
    assert why is not None, "accepted"
    return why


def test_the_rule_accepts_a_cosigned_transition_and_nothing_else() -> None:
    old, new = generate(ORIGIN), generate(ORIGIN)
    witness = Ed25519Cosigner("witness.test/w", Ed25519PrivateKey.generate())
    tree = Checkpoint(ORIGIN, 7, ROOT)
    transition = sign_transition(old, new, tree)
    cosigned = witness.add_signature(transition)
    for anchors in ([old.verifier()], [new.verifier()], [old.verifier(), new.verifier()]):
        assert _checked(cosigned, anchors) is None
        assert _checked(transition, anchors) is None
    assert _checked(witness.add_signature(old.sign_checkpoint(tree)), [old.verifier()]) is None

    prev_line, next_line = transition_lines(old.verifier_key, new.verifier_key)
    # another extension line beside the transition, signed by both keys
    body = Checkpoint(ORIGIN, 7, ROOT, (prev_line, next_line, "note: hello")).body()
    assert "not just origin, size and root" in _refused(
        new.add_signature(old.sign_note(body)), [old.verifier()]
    )
    # an extension line that is no transition at all, signed by the log's key
    body = Checkpoint(ORIGIN, 7, ROOT, ("note: hello",)).body()
    assert "nor a key transition" in _refused(old.sign_note(body), [old.verifier()])
    # transition lines the named next key never signed: the old key's word alone
    body = Checkpoint(ORIGIN, 7, ROOT, (prev_line, next_line)).body()
    assert f"{new.verifier().label}, a key it names, did not sign" in _refused(
        old.sign_note(body), [old.verifier()]
    )
    # a hand-over between two keys outside the chain, in a note the chain's key signed
    a, b = generate(ORIGIN), generate(ORIGIN)
    stranger = sign_transition(a, b, tree)
    assert "outside the log key chain" in _refused(old.add_signature(stranger), [old.verifier()])
    # two next-key lines: malformed
    body = Checkpoint(ORIGIN, 7, ROOT, (prev_line, next_line, next_line)).body()
    assert "next-key" in _refused(new.add_signature(old.sign_note(body)), [old.verifier()])


# -- with a real witness ----------------------------------------------------------------------


def _rotated_pack(
    tmp_path: Path, procs: list[WitnessProcess]
) -> tuple[Path, Path, Path, Path, str, str, int]:
    """A pod rotated at size T, a pack built at T before any witness was configured, then a
    real witness asked to cosign T: (pod, pack, manifest key, policy, old, new, T)."""
    pod = make_pod(tmp_path / "pod")
    pod.append(3)
    old = pod.vkey()
    w1 = start_witness(witness_config(tmp_path / "w1", "witness.test/w1", [pod]))
    procs.append(w1)
    ws = ["-w", str(pod.path)]
    mkey = tmp_path / "manifest.pub"
    assert run(*ws, "pack", "key", "--out", str(mkey))[0] == 0
    code, out, err = run_json(*ws, "key", "rotate")
    assert code == 0, out + err
    done = json.loads(out)
    new, size = done["verifier_key"], done["transition_size"]
    pack = tmp_path / "pack"
    code, out = run(*ws, "pack", "build", "--quarter", "2026Q3", "--no-pdf", "--out", str(pack))
    assert code == 0, out
    assert "prev-key" in (pack / "checkpoint").read_text()
    assert "witness.test/w1 " not in (pack / "checkpoint").read_text()
    with (pod.path / "edgeaudit.toml").open("a") as f:
        f.write(f'\n[[witness]]\nname = "w1"\nurl = "{w1.url}"\nkey = "{w1.vkey}"\ntimeout = 5\n')
    code, out, err = run_json(*ws, "checkpoint")  # the signer's latest: the transition
    assert code == 0, out + err
    assert json.loads(out)["witnesses"][0]["cosigned"] is True, out
    policy = tmp_path / "w1.policy"
    policy.write_text(f"witness w1 {w1.vkey}\nquorum w1\n")
    return pod.path, pack, mkey, policy, old, new, size


def test_a_cosigned_transition_meets_the_policy_in_the_store_and_proofs(
    tmp_path: Path, witness_procs: list[WitnessProcess]
) -> None:
    pod, pack, _, policy, old, new, size = _rotated_pack(tmp_path, witness_procs)
    cosigned = (pod / "witnessed" / f"{size}.note").read_bytes()
    assert parse_note(cosigned).body == parse_note((pack / "checkpoint").read_bytes()).body
    assert b"witness.test/w1 " in cosigned
    rules = parse_policy(policy.read_text(), str(policy))
    assert policy_problem(cosigned, rules) is None
    # the transition as the log signed it (the pack's note) does not meet it
    assert "not met" in str(policy_problem((pack / "checkpoint").read_bytes(), rules))
    for key in (old, new):
        code, out = run("-w", str(pod), "verify", "--key", key, "--witness-policy", str(policy))
        assert code == 0, (key, out)
        assert "witness policy" in out
        assert "met" in out
    code, out = run("-w", str(pod), "proof", "inclusion", "0", "--witness-policy", str(policy))
    assert code == 0, out
    assert "witness.test/w1 " in out


def test_a_pack_whose_transition_was_cosigned_later_verifies(
    tmp_path: Path, witness_procs: list[WitnessProcess]
) -> None:
    pod, pack, mkey, policy, old, new, size = _rotated_pack(tmp_path, witness_procs)
    copy = tmp_path / "cosigned-pack"
    shutil.copytree(pack, copy)
    shutil.copy(pod / "witnessed" / f"{size}.note", copy / "checkpoint")
    for key in (old, new):
        verify = ["verify", str(copy), "--key", key, "--manifest-key", str(mkey)]
        code, out = run(*verify, "--witness-policy", str(policy))
        assert code == 0, (key, out)
        assert "witness policy" in out
        code, out = run(*verify)
        assert code == 0, (key, out)
    # the pack as built has no cosignature: the policy is not met
    code, out = run("verify", str(pack), "--key", old, "--manifest-key", str(mkey),
                    "--witness-policy", str(policy))  # fmt: skip
    assert code == 1, out
    assert "not met" in out
    # still refused: a copy whose signed text carries another extension line (the log's own
    # key signs it here, as an insider would), cosigned too
    from edgeaudit.workspace import config as cfg
    from edgeaudit.workspace.keys import log_signer

    body = parse_note((copy / "checkpoint").read_bytes()).body
    with log_signer(cfg.load(pod)) as key:  # the next key: valid at the transition's size
        (copy / "checkpoint").write_bytes(key.sign_note(body + b"note: added later\n"))
    code, out = run("verify", str(copy), "--key", new, "--manifest-key", str(mkey))
    assert code == 1, out
    assert "not just origin, size and root" in out
