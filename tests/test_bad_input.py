"""Bad input, tabled: what closeout says and how it exits for each thing an admin, a file or a
server can get wrong (issue 9, "Bad input").

Each row of :data:`CASES` is one mistake, with the command that meets it, a fragment of the one
line closeout answers with and the exit code (``closeout --help`` lists them: 2 usage or
configuration, 5 sign-in, role or permission). Every row runs the real ``closeout`` entry point
against one sandbox tenant over loopback and asserts, besides the message and the code:

- no traceback (nothing escapes ``main``, and no "Traceback" in what it printed);
- no write reached Graph (the sandbox's recorder);
- nothing changed in the state dir but the log (no tenant folder, journal, plan or pack).

Read it as documentation: the sections follow where the mistake comes from (the command line,
the environment, files on disk, Graph's answers).
"""

from __future__ import annotations

import contextlib
import io
import json
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_harness import graph_writes, target_args

from app.cli import main
from services.sandbox import Sandbox, SandboxConfig, start_sandbox
from services.sandbox.http import Response

USAGE, AUTH = 2, 5
VALID = "<a valid token for the sandbox tenant>"
REJECTED = "This token was rejected by Microsoft Graph"


@dataclass
class Ctx:
    """What a row's ``prepare`` may set up before the command runs."""

    sb: Sandbox
    tmp: Path
    state: Path
    env: dict[str, str] = field(default_factory=dict)

    def tenant_folder(self) -> Path:
        folder = self.state / "tenants" / self.sb.tenant_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder


@dataclass(frozen=True)
class Case:
    what: str
    """The mistake, in words (the test id)."""
    argv: tuple[str, ...]
    """The command; ``SANDBOX`` stands for the options that point closeout at the sandbox and
    the state dir, ``GRAPH`` for the sandbox's Graph root alone, ``TMP`` for this row's
    temporary folder."""
    says: str
    """A fragment of what closeout answers (stdout and stderr)."""
    code: int
    token: str | None = VALID
    """CLOSEOUT_ACCESS_TOKEN (None: unset)."""
    prepare: Callable[[Ctx], None] | None = None


def cli(*argv: str) -> tuple[str, ...]:
    return argv


def on_sandbox(*argv: str) -> tuple[str, ...]:
    return (*argv, "SANDBOX")


# -- helpers for the rows ----------------------------------------------------------------------


def write(relative: str, content: str | bytes, mode: int = 0o600) -> Callable[[Ctx], None]:
    """Put a file in the tenant's folder (``relative`` to it) before the command runs."""

    def prepare(ctx: Ctx) -> None:
        path = ctx.tenant_folder() / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.replace("TENANT", ctx.sb.tenant_id) if isinstance(content, str) else content
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        path.chmod(mode)

    return prepare


def answer(path: str, rewrite: Callable[[Response], Response]) -> Callable[[Ctx], None]:
    """Graph's answers to GETs matching ``path`` (a regex) rewritten, for the whole command."""

    def prepare(ctx: Ctx) -> None:
        ctx.sb.add_fault(method="GET", path=path, times=-1, rewrite=rewrite)

    return prepare


def raw(body: bytes | str, content_type: str, status: int = 200) -> Callable[[Response], Response]:
    def rewrite(resp: Response) -> Response:
        return Response(status=status, body=body, content_type=content_type)

    return rewrite


def patched(change: Callable[[dict], object]) -> Callable[[Response], Response]:
    """The JSON answer with ``change`` applied to it (in place, or returning a new body)."""

    def rewrite(resp: Response) -> Response:
        body = json.loads(json.dumps(resp.body))
        new = change(body)
        return Response(resp.status, body if new is None else new, dict(resp.headers))

    return rewrite


def claims(payload: str) -> str:
    """A readable token whose claims are ``payload`` as written (JSON, NaN and 1e400 allowed):
    the sandbox rejects its signature, so closeout reads its claims to say why."""
    import base64

    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    header = part('{"alg":"none"}')
    return f"{header}.{part(payload)}.c2ln"


def each_user(change: Callable[[dict], object]) -> Callable[[dict], object]:
    def apply(body: dict) -> None:
        for user in body.get("value", []):
            if not user["userPrincipalName"].startswith("admin@"):
                change(user)

    return apply


# -- the table ---------------------------------------------------------------------------------

# fmt: off
CASES: list[Case] = [
    # The command line: numbers out of range, words for numbers, unknown values.
    Case("poll interval nan", cli("--poll-interval", "nan", "status"), "not a finite number", USAGE),
    Case("poll interval inf", cli("--poll-interval", "inf", "status"), "not a finite number", USAGE),
    Case("poll interval 1e308", cli("--poll-interval", "1e308", "status"), "from 0.05 to 3,600", USAGE),
    Case("poll interval 1e-300", cli("--poll-interval", "1e-300", "status"), "from 0.05 to 3,600", USAGE),
    Case("poll interval a word", cli("--poll-interval", "soon", "status"), "'soon' is not a number", USAGE),
    Case(
        "poll interval of 1 s on a real tenant",
        cli("status", "--graph-url", "https://graph.microsoft.com", "--poll-interval", "1"),
        "--poll-interval below 5 seconds is only for a sandbox tenant",
        USAGE,
    ),
    Case("users 0", cli("--users", "0", "status"), "must be from 1 to 200,000", USAGE),
    Case("users 1e3", cli("--users", "1e3", "status"), "'1e3' is not a whole number", USAGE),
    Case("users a billion", cli("--users", "1000000000", "status"), "must be from 1 to 200,000", USAGE),
    Case("seed negative", cli("--seed", "-1", "status"), "must be from 0 to 4,294,967,295", USAGE),
    Case("time scale 0", cli("--time-scale", "0", "status"), "must be from 0.01 to 1,000,000", USAGE),
    Case("time scale nan", cli("--time-scale", "nan", "status"), "not a finite number", USAGE),
    Case(
        "time scale on a real tenant",
        cli("status", "--graph-url", "https://graph.microsoft.com", "--time-scale", "60"),
        "--time-scale applies only to a sandbox tenant",
        USAGE,
    ),
    Case("sandbox port 99999", cli("sandbox", "serve", "--port", "99999"), "from 0 to 65,535", USAGE),
    Case("sandbox port -1", cli("sandbox", "serve", "--port", "-1"), "from 0 to 65,535", USAGE),
    Case("sandbox faults garbage", cli("sandbox", "serve", "--faults", "garbage"), "unknown fault 'garbage'", USAGE),
    Case("sandbox fault rate 2", cli("sandbox", "serve", "--faults", "5xx=2"), "rate must be from 0 to 1", USAGE),
    Case(
        "sandbox slow fault of nan seconds",
        cli("sandbox", "serve", "--faults", "slow=0.5:nan"),
        "'nan' is not a number",
        USAGE,
    ),
    Case("sandbox latency negative", cli("sandbox", "serve", "--latency-ms", "-5"), "from 0 to 60,000", USAGE),
    Case("sandbox behaviour unknown", cli("sandbox", "serve", "--behaviour", "kind"), "kind", USAGE),
    Case("cloud unknown", cli("--cloud", "moon", "plan"), "Unknown cloud", USAGE),
    Case("language unknown", cli("--lang", "fi", "status"), "invalid choice: 'fi'", USAGE),
    Case("graph url over plain http", cli("plan", "--graph-url", "http://example.com"), "plain http", USAGE),
    Case("run without --headless", cli("run"), "--headless", USAGE),
    Case("unknown manual check", cli("run", "--headless", "--confirm-manual", "coffee"), "coffee", USAGE),
    Case(
        "demo with a graph url",
        cli("--demo", "--graph-url", "https://x.example", "status"),
        "--demo and --graph-url cannot be combined",
        USAGE,
    ),
    Case("export --offline without --tenant", cli("export", "--offline"), "export --offline needs --tenant", USAGE),
    Case(
        "export --offline of a tenant id that is a path",
        cli("export", "--offline", "--tenant", "../../etc"),
        "closeout has no saved plan for tenant ../../etc",
        USAGE,
    ),
    Case(
        "a certificate and a bring-your-own token",
        on_sandbox("status", "--certificate", "TMP/app.pem", "--tenant", "contoso.onmicrosoft.com"),
        "--certificate and CLOSEOUT_ACCESS_TOKEN",
        USAGE,
    ),
    Case(
        "a thumbprint without a certificate",
        on_sandbox("status", "--thumbprint", "AB12"),
        "--thumbprint needs --certificate",
        USAGE,
    ),
    Case(
        "a certificate without a tenant",
        cli("status", "--graph-url", "GRAPH", "--certificate", "TMP/app.pem"),
        "App-only sign-in needs the tenant",
        USAGE,
        token=None,
    ),
    # The environment: what CLOSEOUT_ACCESS_TOKEN may hold by mistake.
    Case("token set but empty", on_sandbox("status"), "CLOSEOUT_ACCESS_TOKEN is set but empty", AUTH, token=""),
    Case("token only spaces", on_sandbox("status"), "CLOSEOUT_ACCESS_TOKEN is set but empty", AUTH, token="  \n "),
    Case(
        "token of two words",
        on_sandbox("status"),
        "(U+0020 SPACE) at character 4",
        AUTH,
        token="not a token",
    ),
    Case(
        "token in typographic quotes",
        on_sandbox("status"),
        "“ (U+201C LEFT DOUBLE QUOTATION MARK) at character 1",
        AUTH,
        token="“eyJ0eXAiOiJKV1QifQ.e30.sig”",
    ),
    Case(
        "token with a no-break space",
        on_sandbox("status"),
        "(U+00A0 NO-BREAK SPACE) at character 4",
        AUTH,
        token="abc\u00a0def",
    ),
    Case(
        "token with a terminal escape",
        on_sandbox("status"),
        "(U+001B control character) at character 3",
        AUTH,
        token="ab\x1b]52;c;aGk=\x07",
    ),
    Case(
        "token of 100,000 characters",
        on_sandbox("status"),
        "holds 100,000 characters, more than any access token",
        AUTH,
        token="a" * 100_000,
    ),
    Case(
        "token that is garbage",
        on_sandbox("status"),
        "This token was rejected by Microsoft Graph",
        AUTH,
        token="garbage",
    ),
    # Claims of a readable token are hints only: none of these may crash closeout.
    Case("token expiring at 1e400", on_sandbox("status"), REJECTED, AUTH, token=claims('{"exp": 1e400}')),
    Case("token expiring at NaN", on_sandbox("status"), REJECTED, AUTH, token=claims('{"exp": NaN}')),
    Case("token expiring at 1e300", on_sandbox("status"), REJECTED, AUTH, token=claims('{"exp": 1e300}')),
    Case("token expiring at -1e20", on_sandbox("status"), REJECTED, AUTH, token=claims('{"exp": -1e20}')),
    Case("token expiring at 10**30", on_sandbox("status"), REJECTED, AUTH, token=claims('{"exp": 1' + 30 * "0" + "}")),
    Case(
        "token claiming roles that are a number",
        on_sandbox("status"),
        REJECTED,
        AUTH,
        token=claims('{"roles": 5, "upn": 7, "exp": "soon"}'),
    ),
]
# fmt: on
# fmt: on


# -- running a row -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(SandboxConfig(users=8, seed=21, synced_fraction=0))
    yield sb
    sb.stop()


def _state_files(state: Path) -> dict[str, bytes]:
    """Everything in the state dir but the log, which every command may write."""
    if not state.exists():
        return {}
    return {
        str(p.relative_to(state)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(state.rglob("*"))
        if p.relative_to(state).parts[0] != "logs"
    }


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input(
    case: Case, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = sandbox
    ctx = Ctx(sb, tmp_path, tmp_path / "state")
    if case.prepare is not None:
        case.prepare(ctx)
    token = sb.issue_token() if case.token == VALID else case.token
    if token is None:
        monkeypatch.delenv("CLOSEOUT_ACCESS_TOKEN", raising=False)
    else:
        monkeypatch.setenv("CLOSEOUT_ACCESS_TOKEN", token)
    for name, value in ctx.env.items():
        monkeypatch.setenv(name, value)
    argv: list[str] = []
    for arg in case.argv:
        if arg == "SANDBOX":
            argv += target_args(sb, ctx.state)
        else:
            argv.append(arg.replace("TMP", str(tmp_path)).replace("GRAPH", sb.base_url))

    files_before = _state_files(ctx.state)
    writes_before = len(graph_writes(sb))
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
    except Exception:
        pytest.fail(f"closeout {' '.join(argv)} raised:\n{traceback.format_exc()}")
    finally:
        sb.faults.clear()
    said = out.getvalue() + err.getvalue()

    assert "Traceback" not in said
    assert case.says in said, said
    assert code == case.code, said
    assert len(graph_writes(sb)) == writes_before, "a write reached Graph"
    assert _state_files(ctx.state) == files_before, "the state dir changed"


def test_every_row_is_named_once() -> None:
    assert len({c.what for c in CASES}) == len(CASES)
