"""`make deploy`: the dry run works here (no cluster, no AWS account), the preflight names
every missing piece once, and a release renders with its own tag, the stack's values and
the secrets, or is refused with the reason."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path

import pytest

from functions.commands import aws_stack, deploy, manifests, release
from functions.commands.release import Release

ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _private_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Releases are written under the test's own folder, not the work tree's .run/."""
    monkeypatch.setattr(release, "RUN_DIR", tmp_path / "deploy")


def _secrets_file(folder: Path, **changes: str) -> Path:
    values = {
        "AUTH_DATABASE_URL": "postgresql://tm:pw@db.internal:5432/auth_db",
        "CONFIG_DATABASE_URL": "postgresql://tm:pw@db.internal:5432/flags_db",
        "REDIS_URL": "rediss://:pw@cache.internal:6379/0",
        "MASTER_KEY": secrets.token_urlsafe(32),
        "GRANT_SECRET": secrets.token_hex(32),
        "EVENTS_SIGNING_SECRET": secrets.token_hex(32),
        **changes,
    }
    path = folder / "secrets.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items() if v))
    return path


def _release(tmp_path: Path, *, layout: str = "eks", **secret_changes: str) -> Release:
    return Release(
        tag="0123456789ab",
        outputs=release.example_outputs("eu-west-1", ACCOUNT),
        region="eu-west-1",
        domain="flags.acme.io",
        layout=layout,
        secrets_file=_secrets_file(tmp_path, **secret_changes),
    )


def test_dry_run__fresh_clone_without_cluster_or_account__checks_pass_and_plan_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given no secrets.env, no cluster and no AWS account (nothing here has them)

    # When make deploy DRY_RUN=1 runs
    code = deploy.main(["--dry-run", "--domain", "flags.acme.io"])

    # Then the template lints, the release renders and passes every check, and the plan
    # names the stack, the image at the commit's tag, the Job, the waits and the URLs
    out = capsys.readouterr().out
    assert code == 0, out
    assert "cfn-lint ok" in out
    assert "every check passes" in out
    assert "secrets.env is missing: the example's placeholders were rendered" in out
    tag, _ = release.git_release()
    assert f"togglemaster:{tag}" in out
    assert f"run Job migrate-{tag} and wait" in out
    assert "https://evaluation.flags.acme.io" in out
    assert [line.split(".")[0].strip() for line in out.split("plan:")[1].splitlines() if line][
        :8
    ] == [str(n) for n in range(1, 9)]


@pytest.mark.parametrize("layout", release.LAYOUTS)
def test_release__stack_values_and_secrets__renders_with_no_problem(
    tmp_path: Path, layout: str
) -> None:
    # Given a release with the stack's outputs and real-looking secrets
    rel = _release(tmp_path, layout=layout)

    # When it is rendered
    documents = release.render(rel)

    # Then every check passes, the release's checks included
    assert manifests.problems(documents, image=rel.image) == []
    jobs = [d["metadata"]["name"] for d in documents if d["kind"] == "Job"]
    assert jobs == ["migrate-0123456789ab"]
    assert stat.S_IMODE(os.stat(rel.directory / "secrets.env").st_mode) == 0o600


def test_release__first_phase__what_the_migrations_need_and_nothing_else(tmp_path: Path) -> None:
    # Given a rendered release
    documents = release.render(_release(tmp_path))

    # When the objects applied before the migration Job are picked
    first = release.first_phase(documents)

    # Then they are the namespace, accounts, settings, Secret and the Job: no Service
    assert {d["kind"] for d in first} == {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Job",
    }


def test_release__secrets_changed__new_secret_name_so_services_roll(tmp_path: Path) -> None:
    # Given two releases whose secrets differ in one value
    first = release.render(_release(tmp_path))
    second = release.render(_release(tmp_path, GRANT_SECRET=secrets.token_hex(32)))

    # When the Secret's name is read, and where evaluation reads GRANT_SECRET from
    def names(documents: list[manifests.Document]) -> tuple[str, str]:
        (secret,) = [d["metadata"]["name"] for d in documents if d["kind"] == "Secret"]
        service = next(
            d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == "evaluation"
        )
        env = service["spec"]["template"]["spec"]["containers"][0]["env"]
        ref = next(e for e in env if e["name"] == "GRANT_SECRET")
        return secret, ref["valueFrom"]["secretKeyRef"]["name"]

    # Then the name carries the content's hash, and the Service follows it (a new revision)
    assert names(first)[0] == names(first)[1]
    assert names(second)[0] == names(second)[1]
    assert names(first)[0] != names(second)[0]


def test_release__examples_left__each_named(tmp_path: Path) -> None:
    # Given a release on the example account, with the example's secrets
    rel = Release(
        tag="0123456789ab",
        outputs=release.example_outputs("us-east-1"),
        region="us-east-1",
        domain=manifests.EXAMPLE_DOMAIN,
        secrets_file=release.EXAMPLE_SECRETS,
    )

    # When it is rendered and checked as a deploy checks it
    found = manifests.problems(release.render(rel), image=rel.image)

    # Then the example account, the example domain and each placeholder secret are named
    assert any(manifests.EXAMPLE_ACCOUNT in p for p in found)
    assert any(manifests.EXAMPLE_DOMAIN in p for p in found)
    assert any("MASTER_KEY is still the example's placeholder" in p for p in found)


def test_release__role_missing_or_image_moved__named(tmp_path: Path) -> None:
    # Given a rendered release whose analytics account lost its role and whose auth
    # Service runs another tag
    rel = _release(tmp_path)
    documents = release.render(rel)
    account = next(
        d
        for d in documents
        if d["metadata"]["name"] == "analytics" and d["kind"] == "ServiceAccount"
    )
    del account["metadata"]["annotations"]
    auth = next(d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == "auth")
    auth["spec"]["template"]["spec"]["containers"][0]["image"] = rel.image.replace(
        rel.tag, "latest"
    )

    # When checked
    found = manifests.release_problems(documents, image=rel.image)

    # Then both are named
    assert any("ServiceAccount/analytics: no IRSA role" in p for p in found)
    assert any("Service/auth: image" in p for p in found)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"MASTER_KEY": "short"}, "MASTER_KEY is 5 characters long"),
        ({"GRANT_SECRET": "a" * 40}, "GRANT_SECRET must be a random secret"),
        ({"EVENTS_SIGNING_SECRET": ""}, "EVENTS_SIGNING_SECRET is missing"),
        ({"REDIS_URL": "rediss://:PASSWORD@your-elasticache.example:6379/0"}, "REDIS_URL still"),
    ],
)
def test_secrets__bad_value__named_with_its_variable(
    tmp_path: Path, changes: dict[str, str], expected: str
) -> None:
    # Given a secrets.env with one bad value
    path = _secrets_file(tmp_path, **changes)

    # When it is checked
    found = release.secrets_problems(path)

    # Then the message names the variable and what is wrong
    assert any(expected in problem for problem in found), found


def test_preflight__nothing_installed_or_configured__one_message_per_missing_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no AWS configuration, no kubectl, no docker (only git on PATH), no secrets.env
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(bin_dir))
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    options = deploy.Options(secrets=tmp_path / "secrets.env", allow_dirty=True)

    # When the preflight runs
    problems = deploy.preflight(options)

    # Then each missing piece is said once, and what depends on kubectl is not said again
    assert [p.split(":")[0] for p in problems] == [
        "AWS region",
        "AWS credentials",
        "kubectl context",
        "container builder",
        "secrets.env",
    ]
    assert "kubectl is not installed" in problems[2]
    assert "no container builder" in problems[3]


FAKE_KUBECTL = """#!/bin/sh
# kubectl as a cluster with Knative Serving 1.20, Eventing {eventing} and Kourier answers it
case "$*" in
  "config current-context") echo test-context ;;
  "version --request-timeout=10s") echo ok ;;
  "get namespace knative-serving -o json")
    echo '{{"metadata": {{"labels": {{"app.kubernetes.io/version": "v1.20.0"}}}}}}' ;;
  "get namespace knative-eventing -o json")
    echo '{{"metadata": {{"labels": {{"app.kubernetes.io/version": "v{eventing}"}}}}}}' ;;
  "get configmap config-network -n knative-serving -o json")
    echo '{{"data": {{"ingress-class": "kourier.ingress.networking.knative.dev"}}}}' ;;
  "get service kourier -n kourier-system") echo kourier ;;
  "get configmap config-features -n knative-serving -o json") echo '{{"data": {{}}}}' ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""


@pytest.mark.parametrize(
    ("eventing", "expected"), [("1.20.1", None), ("1.19.2", "older than 1.20")]
)
def test_preflight__knative_versions__eventing_before_1_20_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eventing: str, expected: str | None
) -> None:
    # Given a kubectl whose cluster runs Eventing `eventing`
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(eventing=eventing))
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    options = deploy.Options()

    # When the cluster's checks run
    context, knative = deploy.check_kubectl(options), deploy.check_knative(options)

    # Then the context is fine, and Knative is refused only when Eventing is too old
    assert context is None
    assert knative is None if expected is None else expected in str(knative)


def test_main__real_deploy_without_domain__refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no DOMAIN
    monkeypatch.delenv("DOMAIN", raising=False)

    # When make deploy runs for real
    code = deploy.main([])

    # Then it says what to set
    assert code == 1
    assert "make deploy DOMAIN=" in capsys.readouterr().err


def test_example_outputs__shape__every_output_the_stack_declares() -> None:
    # Given / When
    outputs = release.example_outputs("eu-west-1", ACCOUNT)

    # Then the dry run renders from the same keys a real stack gives
    assert set(outputs) == set(aws_stack.OUTPUTS)


JOB_KUBECTL = """#!/bin/sh
# kubectl as a cluster where Job migrate-x has {state}
case "$*" in
  "get job migrate-x -n togglemaster -o json") echo '{status}' ;;
  "logs job/migrate-x -n togglemaster"*) echo "auth database: auth/001_api_keys" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""


@pytest.mark.parametrize(
    ("state", "status", "expected"),
    [
        ("succeeded", '{"status": {"succeeded": 1}}', None),
        (
            "failed",
            '{"status": {"failed": 4, "conditions": [{"type": "Failed", "status": "True",'
            ' "reason": "BackoffLimitExceeded"}]}}',
            "Job migrate-x failed (BackoffLimitExceeded):\nauth database: auth/001_api_keys",
        ),
    ],
)
def test_wait_for_job__job_finishes__returns_or_names_the_failure_with_its_log(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    state: str,
    status: str,
    expected: str | None,
) -> None:
    # Given a cluster where the release's migration Job has finished
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(JOB_KUBECTL.format(state=state, status=status))
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    # When make deploy waits for it
    if expected is None:
        deploy.wait_for_job("migrate-x")
        # Then it returns, having printed the migrations' log
        assert "auth/001_api_keys" in capsys.readouterr().out
    else:
        # Then it stops the deploy, with the reason and the Job's last lines
        with pytest.raises(deploy.DeployError) as raised:
            deploy.wait_for_job("migrate-x")
        assert expected in str(raised.value)
