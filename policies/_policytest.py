"""`resident test`: run a policy's YAML unit tests offline, with the real engine.

The policy is signed with a throwaway key and loaded through `load_policy`, exactly as a host
loads it; each case then runs the same `Policy` calls an object's turn makes (caller check,
command and its refusal, workflow start/event/timeouts, rules) without Dapr. Outcomes are
compared with the case's expectations (`_testmatch`); a failure carries a readable diff.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._durations import parse_duration
from ._errors import InvalidPolicy, PolicyError
from ._flowcheck import yaml_keys
from ._load import load_policy, sign_policy
from ._policy import Policy
from ._signing import TrustStore, generate_key
from ._testfile import Case, Suite, moment
from ._testmatch import diff, matches
from ._workflow import WorkflowOutcome, WorkflowStatus
from ._yamlpos import located_errors, parse_source

TEST_ISSUER = "https://resident-test.invalid"
MAX_SUITES = 1000


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    diff: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """One test file. `error` is set when the file or its policy could not be used."""

    file: str
    cases: tuple[CaseResult, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.cases)


def discover(path: Path) -> list[Path]:
    """`path` itself if it is a file, else every `*.test.yaml` under it (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InvalidPolicy(f"{path}: no such file or directory")
    found = sorted(path.rglob("*.test.yaml"))
    if len(found) > MAX_SUITES:
        raise InvalidPolicy(f"{path}: more than {MAX_SUITES} test files; point at fewer")
    return found


def run_suite(test_file: Path) -> SuiteResult:
    """Run every case of `test_file`; never raises for a bad file or policy."""
    try:
        suite = _read_suite(test_file)
        policy = _load(suite.policy_path(test_file), moment(suite.now))
    except (PolicyError, OSError, UnicodeDecodeError) as exc:
        return SuiteResult(str(test_file), error=str(exc))
    cases = tuple(run_case(policy, case, suite) for case in suite.cases)
    return SuiteResult(str(test_file), cases)


def _read_suite(test_file: Path) -> Suite:
    source = parse_source(test_file.read_text(encoding="utf-8"))
    try:
        return Suite.model_validate(source.value)
    except ValidationError as exc:
        problems = []
        for err in located_errors(exc):
            where = source.position(err["loc"], at_key=err["type"] == "extra_forbidden")
            dotted = ".".join(str(p) for p in err["loc"]) or "(file)"
            problems.append(f"line {where.line} column {where.column}: {dotted}: {err['msg']}")
        raise InvalidPolicy(f"{test_file}: not a valid test file: {'; '.join(problems)}") from exc


def _load(policy_file: Path, now: datetime) -> Policy:
    document = parse_source(policy_file.read_text(encoding="utf-8")).value
    if not isinstance(document, dict):
        raise InvalidPolicy(f"{policy_file}: a policy document is a mapping")
    document = yaml_keys(document)
    issuer = document.get("iss") if isinstance(document.get("iss"), str) else TEST_ISSUER
    key = generate_key(kid="resident-test", issuer=issuer)
    trust = TrustStore.from_jwks({"keys": [key.public_jwk]})
    try:
        jws = sign_policy(document, key, now=now)
    except PolicyError as exc:
        raise InvalidPolicy(f"{policy_file}: {exc} (run `resident lint` on it)") from exc
    return load_policy(jws, trust, now=now)


def run_case(policy: Policy, case: Case, suite: Suite) -> CaseResult:
    started = time.perf_counter()
    try:
        actual = _outcome(policy, case, suite)
    except PolicyError as exc:
        actual = {"refused": {"code": exc.code, "message": exc.message}}
    expected = case.expect.given()
    passed = all(matches(value, actual.get(key)) for key, value in expected.items())
    text = "" if passed else diff(expected, actual)
    return CaseResult(case.name, passed, text, time.perf_counter() - started)


@dataclass(slots=True)
class _Scene:
    policy: Policy
    case: Case
    object_id: str
    now: datetime
    data: dict[str, Any]
    caller: dict[str, Any]
    out: dict[str, Any] = field(default_factory=dict)

    def collect(self, outcome: WorkflowOutcome) -> None:
        for step in outcome.steps:
            self.add(step.decision.to_dict())
        self.out["errors"].extend(outcome.errors)
        self.out["state"] = outcome.status.state
        self.data = outcome.data
        self.out["data"] = outcome.data

    def add(self, decision: Mapping[str, Any]) -> None:
        for key in ("changes", "effects", "denied", "errors", "fired"):
            self.out[key].extend(decision[key])
        self.out["data"] = self.data = decision["data"]


def _outcome(policy: Policy, case: Case, suite: Suite) -> dict[str, Any]:
    now = moment(case.now or suite.now)
    caller = dict(case.caller)
    caller.setdefault("iss", policy.callers[0])
    scene = _Scene(
        policy,
        case,
        case.object or suite.object or _object_id(policy),
        now,
        {**policy.initial_data, **case.data},
        caller,
    )
    scene.out = {k: [] for k in ("changes", "effects", "denied", "errors", "fired")}
    scene.out.update(result=None, data=scene.data, state=case.state, refused=None)
    # As a host routes `POST .../commands/{name}`: a workflow event goes to the workflow.
    if case.command is not None and case.command not in policy.workflow_events:
        _command(scene, case.command)
    elif case.command is not None or case.event is not None:
        _event(scene, str(case.command or case.event))
    else:
        _cycle(scene)
    return scene.out


def _object_id(policy: Policy) -> str:
    pattern = policy.document.objects[0]
    return pattern.replace("*", "test").replace("?", "x")


def _status(scene: _Scene) -> WorkflowStatus | None:
    if scene.case.state is None:
        return None
    elapsed = timedelta(0)
    if scene.case.elapsed is not None:
        elapsed = parse_duration(scene.case.elapsed, field="elapsed")
    return WorkflowStatus(scene.case.state, scene.now - elapsed)


def _command(scene: _Scene, name: str) -> bool:
    """Run command `name` as a turn does; False when it was refused."""
    scene.policy.check_caller(scene.caller)
    decision = scene.policy.command(
        name,
        scene.case.params,
        caller=scene.caller,
        data=scene.data,
        object_id=scene.object_id,
        now=scene.now,
    ).to_dict()
    refusal = next(
        (d for d in decision["denied"] if d.get("command") == name and "action" not in d), None
    )
    if refusal is not None:
        scene.out["denied"].extend(decision["denied"])
        reason = str(refusal.get("reason", "refused"))
        scene.out["refused"] = {"code": "forbidden", "message": f"command {name!r}: {reason}"}
        return False
    scene.add(decision)
    scene.out["result"] = decision["result"]
    return True


def _event(scene: _Scene, name: str) -> None:
    policy = scene.policy
    policy.check_caller(scene.caller)
    status = _status(scene) or _start(scene)
    before = scene.data
    if name in policy.commands:
        if not _command(scene, name):
            return
    elif not policy.allows("event", scene.caller, object_id=scene.object_id, data=scene.data):
        message = f"the policy's `event` permission denies this caller ({name!r})"
        scene.out["refused"] = {"code": "forbidden", "message": message}
        return
    outcome = policy.workflow_event(
        name,
        scene.case.params,
        status=status,
        caller=scene.caller,
        data=scene.data,
        object_id=scene.object_id,
        now=scene.now,
    )
    if outcome.refused is not None and not outcome.steps:
        scene.out.update(data=before, changes=[], effects=[], state=status.state)
        scene.out["denied"].append(
            {"event": name, "state": status.state, "reason": outcome.refused}
        )
        scene.out["refused"] = {"code": "not_taken", "message": outcome.refused}
        return
    scene.collect(outcome)


def _start(scene: _Scene) -> WorkflowStatus:
    outcome = scene.policy.workflow_start(scene.data, object_id=scene.object_id, now=scene.now)
    scene.collect(outcome)
    if outcome.refused is not None:
        raise InvalidPolicy(f"the workflow cannot start: {outcome.refused}")
    return outcome.status


def _cycle(scene: _Scene) -> None:
    policy = scene.policy
    if policy.has_workflow:
        status = _status(scene)
        if status is None:
            _start(scene)
        else:
            outcome = policy.workflow_timeouts(
                scene.data, status=status, object_id=scene.object_id, now=scene.now, cycle=1
            )
            scene.collect(outcome)
    decision = policy.evaluate(scene.data, object_id=scene.object_id, cycle=1, now=scene.now)
    scene.add(decision.to_dict())
