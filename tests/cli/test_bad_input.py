"""Bad input, tabled: what closeout says and how it exits for each thing an admin, a file or a
server can get wrong (issue 9, "Bad input").

Each row of :data:`CASES` is one mistake, with the command that meets it, a fragment of the one
line closeout answers with and the exit code (``closeout --help`` lists them: 2 usage or
configuration, 3 waiting, which ``status`` of a tenant half-way through its close-out answers,
5 sign-in, role or permission). Every row runs the real ``closeout`` entry point
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

from app.cli import main
from services.sandbox import Sandbox, SandboxConfig, start_sandbox
from services.sandbox.http import Response
from tests.support.cli_harness import graph_writes, target_args

USAGE, WAITING, AUTH = 2, 3, 5
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


def a_file(name: str, content: bytes | None) -> Callable[[Ctx], None]:
    """Put ``name`` in the row's temporary folder (``TMP/name``); None: a folder."""

    def prepare(ctx: Ctx) -> None:
        if content is None:
            (ctx.tmp / name).mkdir()
        else:
            (ctx.tmp / name).write_bytes(content)

    return prepare


def symlink(relative: str, *, folder: bool = False) -> Callable[[Ctx], None]:
    """Plant ``relative`` (to the state dir; ``TENANT`` for the tenant's id) as a symbolic link
    to a file or folder outside it, which closeout must leave alone."""

    def prepare(ctx: Ctx) -> None:
        target = ctx.tmp / "elsewhere"
        if folder:
            target.mkdir()
        else:
            target.write_text("not closeout's")
        link = ctx.state / relative.replace("TENANT", ctx.sb.tenant_id)
        link.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        link.symlink_to(target)

    return prepare


def journal(*lines: str) -> Callable[[Ctx], None]:
    """A journal for the tenant: a run-start of this tenant, then ``lines``."""
    start = (
        '{"t":"2025-03-01T10:00:00.000Z","run":"r1","kind":"run-start","tenant":"TENANT",'
        '"command":"run","options":{}}'
    )
    return write("journal.jsonl", "".join(line + "\n" for line in (start, *lines)))


def record(**fields: object) -> str:
    """One journal line of run r1 with ``fields`` (given as they are, whatever their type)."""
    return json.dumps({"t": "2025-03-01T10:00:01.000Z", "run": "r1", **fields})


def next_link(link: str) -> Callable[[Ctx], None]:
    """Every page of the users list names ``link`` (``GRAPH``: the sandbox's root) as next."""

    def prepare(ctx: Ctx) -> None:
        value = link.replace("GRAPH", ctx.sb.base_url) if isinstance(link, str) else link
        answer(USERS, patched(lambda body: {**body, "@odata.nextLink": value}))(ctx)

    return prepare


def each_item(key: str, change: Callable[[dict], object]) -> Callable[[dict], object]:
    def apply(body: dict) -> None:
        for item in body.get(key, []):
            change(item)

    return apply


def setting(key: str, value: object) -> Callable[[dict], object]:
    def apply(item: dict) -> None:
        item[key] = value

    return apply


USERS = r"^/v1\.0/users(\?|$)"
SKUS = r"^/v1\.0/subscribedSkus"
POLICIES = r"^/v1\.0/identity/conditionalAccess"
ORG = r"^/v1\.0/organization"
ME = r"^/v1\.0/me(\?|$)"
NOT_JSON = "Graph sent a body that is not JSON for GET"
NOT_GRAPH = "Microsoft Graph does not answer this way"
WITHHELD = "not followed, so that the access token is not sent there"
OFFLINE = ("export", "--offline", "--tenant", "TENANT", "--state-dir", "TMP/state")
PLAN = '{"tenant": {"id": "OTHER", "display_name": "Other", "initial_domain": "o.example"}}'


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
    # Files on disk: what a crash, an edit or a copy may leave in the state dir.
    Case(
        "a journal line whose object is an array",
        on_sandbox("status"),
        "has 1 damaged lines that could not be read (line 2)",
        WAITING,
        prepare=journal(record(kind="intent", step=1, action="delete-user", object=["u1"])),
    ),
    Case(
        "a journal line whose run id is a list",
        on_sandbox("status"),
        "has 1 damaged lines that could not be read (line 2)",
        WAITING,
        prepare=journal(record(kind="note", text="x") .replace('"run": "r1"', '"run": ["r1"]')),
    ),
    Case(
        "a journal line whose step is an object",
        on_sandbox("status"),
        "has 1 damaged lines that could not be read (line 2)",
        WAITING,
        prepare=journal(record(kind="step", step={"id": 1}, status="done")),
    ),
    Case(
        "a journal line that is not JSON",
        on_sandbox("status"),
        "has 2 damaged lines that could not be read (line 2, 3)",
        WAITING,
        prepare=journal("garbage", "\x00\x01{"),
    ),
    Case(
        "a journal of another tenant",
        on_sandbox("status"),
        "records runs on tenant 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a (line 1)",
        USAGE,
        prepare=write(
            "journal.jsonl",
            '{"t":"2025-03-01T10:00:00.000Z","run":"r1","kind":"run-start",'
            '"tenant":"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"}\n',
        ),
    ),
    Case(
        "a journal that is a folder",
        on_sandbox("status"),
        "Is a directory",
        USAGE,
        prepare=lambda ctx: (ctx.tenant_folder() / "journal.jsonl").mkdir(),
    ),
    Case(
        "a saved plan that is not JSON, exported offline",
        cli(*OFFLINE),
        "cannot be read: it is damaged or not closeout's",
        USAGE,
        token=None,
        prepare=write("plan.json", "{not json"),
    ),
    Case(
        "a saved plan whose tenant is a number, exported offline",
        cli(*OFFLINE),
        "cannot be read: it is damaged or not closeout's",
        USAGE,
        token=None,
        prepare=write("plan.json", '{"tenant": 5, "keep": [], "steps": {}}'),
    ),
    Case(
        "a saved plan of another tenant, exported offline",
        cli(*OFFLINE),
        "Wrong tenant: the plan saved for",
        AUTH,
        token=None,
        prepare=write("plan.json", PLAN.replace("OTHER", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")),
    ),
    Case("closeout.log is a symbolic link", on_sandbox("status"), "is a symbolic link", USAGE,
         prepare=symlink("logs/closeout.log")),
    Case("logs/ is a symbolic link", on_sandbox("status"), "is a symbolic link", USAGE,
         prepare=symlink("logs", folder=True)),
    Case("the tenant folder is a symbolic link", on_sandbox("plan"), "is a symbolic link", USAGE,
         prepare=symlink("tenants/TENANT", folder=True)),
    Case("evidence/ is a symbolic link", on_sandbox("export"), "is a symbolic link", USAGE,
         prepare=symlink("tenants/TENANT/evidence", folder=True)),
    Case(
        "export --out a folder of other files",
        on_sandbox("export", "--out", "TMP/mine"),
        "holds files that are not part of an evidence pack",
        USAGE,
        prepare=lambda ctx: ((ctx.tmp / "mine").mkdir(), (ctx.tmp / "mine" / "notes.txt").write_text("x")),
    ),
    Case(
        "--state-dir is a file",
        cli("status", "--graph-url", "GRAPH", "--no-token-cache", "--state-dir", "TMP/file"),
        "Not a directory",
        USAGE,
        prepare=lambda ctx: (ctx.tmp / "file").write_text("x"),
    ),
    Case(
        "a certificate file that does not exist",
        cli("status", "--graph-url", "GRAPH", "--tenant", "contoso.onmicrosoft.com", "--certificate", "TMP/none.pem"),
        "none.pem not found",
        AUTH,
        token=None,
    ),
    Case(
        "a certificate file that is not PEM",
        cli("status", "--graph-url", "GRAPH", "--tenant", "contoso.onmicrosoft.com", "--certificate", "TMP/bad.pem"),
        "is not a PEM file",
        AUTH,
        token=None,
        prepare=lambda ctx: (ctx.tmp / "bad.pem").write_text("garbage"),
    ),
    Case("--keep-file that does not exist", on_sandbox("plan", "--keep-file", "TMP/none.txt"),
         "cannot read it (No such file or directory)", USAGE),
    Case("--keep-file that is a folder", on_sandbox("plan", "--keep-file", "TMP/dir"),
         "cannot read it (Is a directory)", USAGE, prepare=a_file("dir", None)),
    Case("--keep-file that is not text", on_sandbox("plan", "--keep-file", "TMP/bin"),
         "not UTF-8 text (byte 0)", USAGE, prepare=a_file("bin", b"\xff\xfe\x00garbage\n")),
    Case("--keep-file naming no one", on_sandbox("plan", "--keep-file", "TMP/keep"),
         "line 1: no user nobody@x.example in this tenant", USAGE,
         prepare=a_file("keep", b"nobody@x.example\n")),
    Case("--keep-file with a terminal escape", on_sandbox("plan", "--keep-file", "TMP/keep"),
         "'\\x1b]52;c;aGk=\\x07' is neither a userPrincipalName nor an object id", USAGE,
         prepare=a_file("keep", b"\x1b]52;c;aGk=\x07\n")),
    Case("sandbox portal of a remote URL", cli("sandbox", "portal", "--url", "https://example.com", "state"),
         "not a sandbox on loopback", USAGE),
    Case("sandbox portal where nothing listens", cli("sandbox", "portal", "--url", "http://127.0.0.1:9", "state"),
         "No sandbox answers at http://127.0.0.1:9", USAGE),
    Case("sandbox portal of the Graph root with /v1.0", cli("sandbox", "portal", "--url", "GRAPH/v1.0", "step2"),
         "does not answer as a sandbox's admin centers do (401", USAGE),
    Case("--keep of no such user", on_sandbox("plan", "--keep", "nobody@nowhere.example"), "no user nobody@", USAGE),
    # Graph's answers: what a proxy, a server that is not Graph or a fault may send instead.
    Case("users answered in HTML", on_sandbox("plan"), f"{NOT_JSON} /users", USAGE,
         prepare=answer(USERS, raw(b"<html>proxy sign-in</html>", "text/html"))),
    Case("users answered with cut-off JSON", on_sandbox("plan"), f"{NOT_JSON} /users", USAGE,
         prepare=answer(USERS, raw(b'{"value":[{"id":"a', "application/json"))),
    Case("users answered with a JSON array", on_sandbox("plan"), "not a JSON object", USAGE,
         prepare=answer(USERS, raw(b"[1, 2]", "application/json"))),
    Case("users whose value is text", on_sandbox("plan"), "its value is not a list", USAGE,
         prepare=answer(USERS, patched(lambda body: {**body, "value": "lots"}))),
    Case("users whose value holds numbers", on_sandbox("plan"), "is not an object with an id", USAGE,
         prepare=answer(USERS, patched(lambda body: {**body, "value": [1, None]}))),
    Case("a user without an id", on_sandbox("plan"), "is not an object with an id", USAGE,
         prepare=answer(USERS, patched(each_user(setting("id", None))))),
    Case("a user whose licences are an object", on_sandbox("plan"), "assignedLicenses is not a list of objects", USAGE,
         prepare=answer(USERS, patched(each_user(setting("assignedLicenses", {"skuId": "x"}))))),
    Case("licences whose value is an object", on_sandbox("plan"), "its value is not a list", USAGE,
         prepare=answer(SKUS, patched(lambda body: {**body, "value": {"a": 1}}))),
    Case("a licence whose service plans are text", on_sandbox("plan"), "servicePlans is not a list of objects", USAGE,
         prepare=answer(SKUS, patched(each_item("value", setting("servicePlans", "all"))))),
    Case("a next link to another host", on_sandbox("plan"), "to https://evil.example for its next page", USAGE,
         prepare=next_link("https://evil.example/v1.0/users?$skiptoken=x")),
    Case("a next link to the sandbox's controls", on_sandbox("plan"), WITHHELD, USAGE,
         prepare=next_link("GRAPH/_sandbox/state")),
    Case("a next link that is a number", on_sandbox("plan"), WITHHELD, USAGE, prepare=next_link(5)),
    Case("a next link that is not a URL", on_sandbox("plan"), WITHHELD, USAGE, prepare=next_link("users?$skiptoken=x")),
    Case("the same next link on every page", on_sandbox("plan"), "Graph returned the same next link twice", USAGE,
         prepare=next_link("GRAPH/v1.0/users?$select=id")),
    Case("a policy whose grant controls are text", on_sandbox("plan"), "grantControls is not an object", USAGE,
         prepare=answer(POLICIES, patched(each_item("value", setting("grantControls", "mfa"))))),
    Case("an organization whose domains are a number", on_sandbox("status"), "verifiedDomains is not a list", USAGE,
         prepare=answer(ORG, patched(each_item("value", setting("verifiedDomains", 5))))),
    Case("an organization without an id", on_sandbox("status"), "is not an object with an id", USAGE,
         prepare=answer(ORG, patched(each_item("value", setting("id", 7))))),
    Case("a signed-in user without an id", on_sandbox("status"), "the signed-in user has no id or no text name", USAGE,
         prepare=answer(ME, patched(lambda body: {**body, "id": None}))),
    Case("the signed-in user answered in HTML", on_sandbox("status"), f"{NOT_JSON} /me", USAGE,
         prepare=answer(ME, raw(b"<html/>", "text/html"))),
]
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
            argv.append(
                arg.replace("TMP", str(tmp_path))
                .replace("GRAPH", sb.base_url)
                .replace("TENANT", sb.tenant_id)
            )

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
    assert len(CASES) >= 40  # issue 9's suite: at least 40 mistakes, each with its answer
