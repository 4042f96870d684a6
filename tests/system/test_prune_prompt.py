"""The prune commands' confirmation prompt (src/cli/main.c cli_confirm), as
Docker's: on stdout, and only a trimmed "y" or "Y" confirms."""
import pytest

PROMPT = "\nAre you sure you want to continue? [y/N] "
CASES = [
    (("container", "prune"), "WARNING! This will remove all stopped containers."),
    (("volume", "prune"),
     "WARNING! This will remove anonymous local volumes not used by at least one container."),
    (("network", "prune"),
     "WARNING! This will remove all custom networks not used by at least one container."),
    (("image", "prune"), "WARNING! This will remove all dangling images."),
]


@pytest.mark.parametrize("args,warning", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_prune_prompt(berth, args, warning):
    for answer in (b"yes\n", b"n\n", b"", b"Y y\n"):
        p = berth.run(*args, input=answer)
        assert p.stdout.decode() == warning + PROMPT, answer
        assert p.stderr == b"", answer
    for answer in (b"y\n", b"  Y \r\n", b"y"):
        out = berth.run(*args, input=answer).stdout.decode()
        assert out.startswith(warning + PROMPT), (answer, out)
        # confirmed: the command ran (network prune prints nothing when
        # there is nothing to remove, as Docker's)
        if args != ("network", "prune"):
            assert "Total reclaimed space: " in out, (answer, out)
