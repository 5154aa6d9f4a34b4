"""The plan as data: :class:`Plan` (what will be done, step by step), its
:class:`PlannedAction` s and :class:`KeptAccount` s, and how a plan is saved as JSON and
read back (action by action, held to the types it was written with) into an equal plan
with the same :meth:`Plan.digest`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, TextIO, get_type_hints

from services.errors import CloseoutError
from services.i18n import _
from services.models import (
    StepId,
    TenantInfo,
)
from services.textsafe import json_loads


class PlanError(CloseoutError):
    """The plan cannot be made safely (e.g. app-only without ``--keep``)."""


@dataclass(frozen=True, slots=True)
class KeptAccount:
    id: str
    upn: str
    reason: str
    """Why it is kept (``services.keep``: signed-in admin, --keep, keep-file, marked)."""
    source: str = ""
    """For a keep file: ``path:line``."""
    keep_mfa: bool = False
    """Step 4 leaves its per-user MFA on (the signed-in admin's always stays)."""


@dataclass(frozen=True, slots=True)
class PlannedAction:
    step: StepId
    action: str
    object_id: str
    label: str
    detail: str = ""
    kind: str = "api"
    """``api`` (closeout does it), ``handoff`` (a person does it in a portal), ``report``."""
    sku_id: str = ""
    sku_part_number: str = ""
    product_name: str = ""
    """Subscriptions: the SKU and the admin center's product name (``label`` shows both)."""


# PlannedAction fields written under Graph's names in plan JSON, and only when set.
_PRODUCT_KEYS = {
    "sku_id": "skuId",
    "sku_part_number": "skuPartNumber",
    "product_name": "productName",
}
_ACTION_FIELDS = tuple(f.name for f in fields(PlannedAction))
_JSON_NAMES = {v: k for k, v in _PRODUCT_KEYS.items()}


def _action_json(a: PlannedAction) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _ACTION_FIELDS:
        value = getattr(a, key)
        if key == "step" or (key in _PRODUCT_KEYS and not value):
            continue
        out[_PRODUCT_KEYS.get(key, key)] = value
    return out


def _action_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {_JSON_NAMES.get(k, k): v for k, v in data.items()}


def _loaded_action(data: dict[str, Any]) -> Any:
    # Called by the JSON decoder for every object as it is read: an action becomes a
    # PlannedAction at once, so loading a 200,000-action plan never holds 200,000 dicts.
    # Repeated words (action, kind, detail) are shared, not one string per action. Its step is
    # the key of the list it is in, which the decoder has not reached yet: from_dict sets it.
    if "action" not in data or "object_id" not in data or "step" in data:
        return data
    try:
        return PlannedAction(
            step=_UNPLACED,
            **{
                k: _shared(v) if k in ("action", "kind", "detail") and isinstance(v, str) else v
                for k, v in _action_fields(data).items()
            },
        )
    except TypeError:
        return data  # not an action after all: from_dict says what is wrong with it


_UNPLACED = StepId.PREPARE


def _placed(action: PlannedAction, step: StepId) -> PlannedAction:
    if action.step != step:
        # Still the decoder's own object, seen by nobody else: set the step it was read under
        # the way a frozen dataclass's __init__ does.
        object.__setattr__(action, "step", step)
    return action


_SHARED: dict[str, str] = {}


def _shared(text: str) -> str:
    if len(_SHARED) > 4096:
        _SHARED.clear()
    return _SHARED.setdefault(text, text)


def _dumps(value: Any) -> str:
    # The C encoder: with ``indent`` json falls back to its pure-Python one, which for a
    # 100,000-user plan builds millions of pieces (hundreds of MB) before joining them.
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Plan:
    """What will be done, step by step. Saved as :meth:`to_dict` (or :meth:`json_chunks`) and
    read back with :meth:`from_dict` (:meth:`from_json`) into an equal plan, with the same
    :meth:`digest`."""

    tenant: TenantInfo
    created_at: datetime
    keep: tuple[KeptAccount, ...]
    actions: tuple[PlannedAction, ...]
    """By step; within a step in the order they are carried out (the order the saved plan
    lists each step's actions in, so a plan read back is the same)."""
    warnings: tuple[str, ...] = ()
    data_holders: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    own_app: dict[str, Any] = field(default_factory=dict)
    """What happens to the app closeout signs in with (see :func:`own_app_summary`)."""

    def __post_init__(self) -> None:
        # build_plan interleaves steps 2 and 3 (one loop over subscriptions); the saved plan
        # lists them step by step, so the plan read back had another order, and another digest.
        ordered = tuple(sorted(self.actions, key=lambda a: int(a.step)))  # stable within a step
        if ordered != self.actions:
            object.__setattr__(self, "actions", ordered)

    # A plan never changes once made, so what is derived from all its actions is derived once
    # (kept in the instance's __dict__, beside the frozen fields).

    def _cached(self, name: str, make: Callable[[], Any]) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            value = self.__dict__[name] = make()
            return value

    def _by_step(self) -> dict[StepId, list[PlannedAction]]:
        def group() -> dict[StepId, list[PlannedAction]]:
            out: dict[StepId, list[PlannedAction]] = {step: [] for step in StepId}
            for a in self.actions:
                out.setdefault(a.step, []).append(a)
            return out

        return self._cached("_steps", group)

    def for_step(self, step: StepId) -> list[PlannedAction]:
        return list(self._by_step().get(step, ()))

    def ids(self, action: str) -> list[str]:
        def group() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for a in self.actions:
                out.setdefault(a.action, []).append(a.object_id)
            return out

        return list(self._cached("_ids", group).get(action, ()))

    @property
    def kept_ids(self) -> frozenset[str]:
        return frozenset(k.id for k in self.keep)

    def user_delete_ids(self) -> list[str]:
        return self.ids("delete-user")

    def _head(self) -> dict[str, Any]:
        return {
            "tenant": asdict(self.tenant),
            "createdAt": self.created_at.isoformat(),
            "keep": [asdict(k) for k in self.keep],
            "warnings": list(self.warnings),
            "dataHolders": self.data_holders,
            "ownApp": self.own_app,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._head(),
            "steps": {
                str(int(step)): [_action_json(a) for a in actions]
                for step, actions in self._by_step().items()
            },
        }

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_dict` as JSON text, in pieces, one line per action: a 200,000-action plan
        is written without its whole text (or a dict per action) in memory at once."""
        yield "{\n"
        for key, value in self._head().items():
            yield f"  {_dumps(key)}: {_dumps(value)},\n"
        yield '  "steps": {'
        for i, (step, actions) in enumerate(self._by_step().items()):
            yield f'{"," if i else ""}\n    "{int(step)}": ['
            for j, a in enumerate(actions):
                yield ("," if j else "") + "\n      " + _dumps(_action_json(a))
            yield "\n    ]" if actions else "]"
        yield "\n  }\n}\n"

    def write_json(self, out: TextIO) -> None:
        for chunk in self.json_chunks():
            out.write(chunk)

    @classmethod
    def from_json(cls, raw: bytes) -> Plan:
        """Read back what :meth:`json_chunks` (or :meth:`to_dict`) wrote, action by action.

        Raises ValueError if ``raw`` is not JSON, :class:`PlanError` if it is not a plan.
        """
        return cls.from_dict(json_loads(raw, object_hook=_loaded_action))

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Read back what :meth:`to_dict` wrote (a saved plan survives restarts).

        The file may have been damaged or edited: anything but what :meth:`to_dict` writes
        (a field of another type, an unknown field, a step that does not exist) is a
        :class:`PlanError`, never a plan with a number where an id should be.
        """
        try:
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            tenant = TenantInfo(**_typed(data["tenant"], _TENANT_FIELDS, "tenant"))
            steps = data["steps"]
            if not isinstance(steps, dict):
                raise TypeError("steps is not an object")
            actions = tuple(
                _placed(_checked(item), step)
                if isinstance(item, PlannedAction)
                else PlannedAction(
                    step=step, **_action_fields(_typed(item, _ACTION_JSON_FIELDS, "action"))
                )
                for step, items in ((StepId(int(key)), items) for key, items in steps.items())
                for item in _list(items, f"step {step}")
            )
            warnings = _list(data.get("warnings", []), "warnings")
            if not all(isinstance(w, str) for w in warnings):
                raise TypeError("a warning is not text")
            holders = data.get("dataHolders", 0)
            if isinstance(holders, bool) or not isinstance(holders, int):
                raise TypeError("dataHolders is not a whole number")
            created = data["createdAt"]
            if not isinstance(created, str):
                raise TypeError("createdAt is not text")
            own_app = _typed(data.get("ownApp", {}), _OWN_APP_FIELDS, "ownApp")
            if not all(isinstance(i, str) for i in own_app.get("appIds", [])):
                raise TypeError("ownApp appIds are not text")
            for obj in own_app.get("objects", []):
                _typed(obj, _OWN_APP_OBJECT_FIELDS, "ownApp object")
            return cls(
                tenant=tenant,
                created_at=datetime.fromisoformat(created),
                keep=tuple(
                    KeptAccount(**_typed(k, _KEPT_FIELDS, "keep"))
                    for k in _list(data["keep"], "keep")
                ),
                actions=actions,
                warnings=tuple(warnings),
                data_holders=holders,
                own_app=own_app,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise PlanError(
                _("The saved plan is unreadable ({error}).").format(error=exc),
                _("Make a new one with: closeout plan"),
            ) from None

    def digest(self) -> str:
        """A short hash of the actions, computed once per plan (3 s for a 100,000-user one)."""
        return str(self._cached("_digest", lambda: _digest(self.actions)))


# The fields a saved plan's parts hold, and which of them may be null; anything else there
# (a number for an id, an unknown field) makes the file unreadable. The tenant and the kept
# accounts are their dataclasses' fields, with the types they are declared with.
_TENANT_FIELDS = get_type_hints(TenantInfo)
_KEPT_FIELDS = get_type_hints(KeptAccount)
_OWN_APP_FIELDS = {"appIds": list, "handling": str, "objects": list}
_OWN_APP_OBJECT_FIELDS = {"id": str, "name": str, "kind": str}
_ACTION_JSON_FIELDS = {
    "action": str,
    "object_id": str,
    "label": str,
    "detail": str,
    "kind": str,
    "skuId": str,
    "skuPartNumber": str,
    "productName": str,
}


def _typed(value: Any, fields: dict[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is not an object")
    for key, item in value.items():
        if key not in fields:
            raise TypeError(f"{what} has an unknown field {key!r}")
        if not isinstance(item, fields[key]):
            raise TypeError(f"{what} field {key!r} is not of the right type")
    return value


def _checked(action: PlannedAction) -> PlannedAction:
    """An action the JSON decoder made (:func:`_loaded_action`), its fields held to the types a
    saved plan's actions have."""
    for key in _ACTION_FIELDS:
        if key != "step" and not isinstance(getattr(action, key), str):
            raise TypeError(f"action field {_PRODUCT_KEYS.get(key, key)!r} is not text")
    return action


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return value


def _digest(actions: tuple[PlannedAction, ...]) -> str:
    """The sha256 of ``json.dumps([asdict(a) for a in actions], sort_keys=True, default=str)``
    (16 hex digits), fed to the hash one action at a time."""
    h = hashlib.sha256(b"[")
    for i, a in enumerate(actions):
        text = json.dumps(
            {name: getattr(a, name) for name in _ACTION_FIELDS}, sort_keys=True, default=str
        )
        h.update((", " + text if i else text).encode())
    h.update(b"]")
    return h.hexdigest()[:16]
