"""The command line: options before or after the subcommand, help, and bad input."""

from __future__ import annotations

import pytest

from app.cli import build_parser, main


def test_common_options_work_before_and_after_the_subcommand() -> None:
    parser = build_parser()
    before = parser.parse_args(["--state-dir", "/x", "--keep", "a@b", "--cloud", "usgov", "status"])
    after = parser.parse_args(["status", "--state-dir", "/x", "--keep", "a@b", "--cloud", "usgov"])
    for args in (before, after):
        assert (str(args.state_dir), args.keep, args.cloud) == ("/x", ["a@b"], "usgov")
    plain = parser.parse_args(["status"])
    # --users and --seed: not given means the kept demo tenant's (300 and 7 for a new one).
    assert (plain.state_dir, plain.keep, plain.cloud, plain.users) == (None, [], "global", None)


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for code in ("0", "2", "3", "4", "5"):
        assert f"\n  {code}  " in out
    assert "CLOSEOUT_ACCESS_TOKEN" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--users", "many"], "not a whole number"),
        (["--cloud", "moon", "plan"], "Unknown cloud"),
        (["run"], "--headless"),
        (["plan", "--graph-url", "http://example.com"], "plain http"),
        (["run", "--headless", "--confirm-manual", "coffee"], "coffee"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err
    assert "Traceback" not in err
